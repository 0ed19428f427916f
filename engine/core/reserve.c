/* reserve.c - see reserve.h. */
#include "reserve.h"

#include <stdint.h>
#include <sys/mman.h>

#include "lyassert.h"

/* The size of a transparent huge page on x86-64 and arm64 (4 KiB base
 * pages): a reservation of at least this much is aligned to it and
 * rounded up to a multiple of it, so that every page of it can be huge. */
#define RESERVE_HUGE_BYTES ((size_t)2 << 20)

static size_t bytes_of(size_t n, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes))
        return SIZE_MAX;
    if (bytes == 0)
        return 1;
    if (bytes < RESERVE_HUGE_BYTES)
        return bytes;
    size_t rounded;
    if (__builtin_add_overflow(bytes, RESERVE_HUGE_BYTES - 1, &rounded))
        return SIZE_MAX;
    return rounded & ~(RESERVE_HUGE_BYTES - 1);
}

/* A mapping of `bytes` (a multiple of RESERVE_HUGE_BYTES) starting on a
 * RESERVE_HUGE_BYTES boundary: map one huge page more, unmap the slack. */
static void *map_aligned(size_t bytes)
{
    size_t over = bytes + RESERVE_HUGE_BYTES;
    if (over < bytes)
        return NULL;
    char *p = mmap(NULL, over, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    uintptr_t start = ((uintptr_t)p + RESERVE_HUGE_BYTES - 1) & ~(RESERVE_HUGE_BYTES - 1);
    size_t head = start - (uintptr_t)p, tail = over - head - bytes;
    if (head > 0)
        munmap(p, head);
    if (tail > 0)
        munmap((char *)start + bytes, tail);
    return (void *)start;
}

void *reserve_zeroed(size_t n, size_t size)
{
    size_t bytes = bytes_of(n, size);
    if (bytes == SIZE_MAX)
        return NULL;
    if (bytes < RESERVE_HUGE_BYTES) {
        void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        return p == MAP_FAILED ? NULL : p;
    }
    void *p = map_aligned(bytes);
    /* Advice only: a kernel without THP, or with it set to `never`, or a
     * process that disabled it (PR_SET_THP_DISABLE) keeps 4 KiB pages,
     * which work the same, only with a longer fork (reserve.h). */
    if (p != NULL)
        (void)madvise(p, bytes, MADV_HUGEPAGE);
    return p;
}

void *reserve_derived(size_t n, size_t size)
{
    void *p = reserve_zeroed(n, size);
    if (p != NULL && madvise(p, bytes_of(n, size), MADV_DONTFORK) != 0) {
        reserve_release(p, n, size);
        return NULL;
    }
    return p;
}

void reserve_discard(void *p, size_t n, size_t size)
{
    size_t bytes = bytes_of(n, size);
    LY_ASSERT(bytes != SIZE_MAX);
    int rc = madvise(p, bytes, MADV_DONTNEED);
    LY_ASSERT(rc == 0 && "p is a reservation of at least n * size bytes");
}

void reserve_release(void *p, size_t n, size_t size)
{
    if (p != NULL)
        munmap(p, bytes_of(n, size));
}
