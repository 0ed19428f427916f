/* reserve.h - address space reserved once for a store that never grows.
 *
 * Every store of the state (members, expiry lots, indexes, the schedule,
 * the txn window) is sized at init from a named limit and never
 * reallocated, so applying entries allocates nothing. A reservation is an
 * anonymous private mapping without swap reservation (MAP_NORESERVE): the
 * kernel gives it zeroed pages only as they are first written, so a store
 * reserved for 20M members costs resident memory only for the members it
 * holds. (A host with vm.overcommit_memory = 2 counts the whole
 * reservation: size members_max and max_txns to the program there.)
 *
 * A reservation of 2 MiB or more starts on a 2 MiB boundary, is rounded up
 * to a multiple of 2 MiB and is advised MADV_HUGEPAGE, so that with
 * transparent huge pages in `madvise` or `always` mode it is backed by
 * 2 MiB pages: fork() then copies one page-table entry per 2 MiB instead
 * of 512, which is what makes a snapshot's fork of a 10M-member state
 * short (snapper.c); and a copy-on-write fault after the fork splits the
 * huge page and copies 4 KiB (Linux 5.8 and later), not 2 MiB. With THP
 * `never` the stores work the same on 4 KiB pages.
 */
#ifndef LOYALTY_RESERVE_H
#define LOYALTY_RESERVE_H

#include <stddef.h>

/* Reserves `n` zeroed bytes (n * size, overflow checked). Returns NULL when
 * the product overflows or the mapping fails; a zero size gives a valid
 * non-NULL reservation of one page. */
void *reserve_zeroed(size_t n, size_t size);

/* Reserves like reserve_zeroed, for a store derived from the others (an
 * index, the schedule) that a snapshot writer never reads: advised
 * MADV_DONTFORK, it is not inherited by a forked child, so fork() copies
 * none of its page tables and the parent's writes to it while a snapshot
 * runs take no copy-on-write fault. A child must not touch it (it is not
 * mapped there). Returns NULL as reserve_zeroed does. */
void *reserve_derived(size_t n, size_t size);

/* Hands the pages of p[0 .. n * size) back to the kernel; they read as
 * zeros afterwards (p: a reservation made by reserve_zeroed). */
void reserve_discard(void *p, size_t n, size_t size);

/* Releases a reservation of `n` * `size` bytes made by reserve_zeroed
 * (NULL: nothing). */
void reserve_release(void *p, size_t n, size_t size);

#endif
