/* reserve.c - see reserve.h. */
#include "reserve.h"

#include <stdint.h>
#include <sys/mman.h>

#include "lyassert.h"

static size_t bytes_of(size_t n, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes))
        return SIZE_MAX;
    return bytes == 0 ? 1 : bytes;
}

void *reserve_zeroed(size_t n, size_t size)
{
    size_t bytes = bytes_of(n, size);
    if (bytes == SIZE_MAX)
        return NULL;
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
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
