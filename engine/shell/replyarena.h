/* replyarena.h - hiredis reply objects from one arena per connection.
 *
 * hiredis 0.14 builds every reply as a tree of malloc'd redisReply objects
 * (an XREAD of 1,024 entries: ~9,000 allocations, each freed again after
 * the reply's handler): about a tenth of the daemon's time went to malloc
 * and free. An arena attached to a connection's reader (its
 * redisReplyObjectFunctions) builds the same redisReply trees from a few
 * chunks kept between replies: freeing the root of a reply empties the
 * arena. Safe because a reader builds one reply at a time and hiredis frees
 * each reply (its root, through the functions table) before it builds the
 * next; no handler keeps a reply after it returns (rulesync copies what it
 * keeps).
 *
 * Lifetime: the connection's owner calls replyarena_release once, when the
 * context goes away (hangup or disconnect callback). The arena frees itself
 * then, or, when a reply is still alive (the one being handled, or one the
 * reader had half built), when hiredis frees that reply.
 *
 * Bounds: chunks of REPLYARENA_CHUNK bytes; an object larger than that gets
 * a chunk of its own, freed when the reply is; at most REPLYARENA_KEEP
 * chunks are kept between replies.
 */
#ifndef LOYALTY_REPLYARENA_H
#define LOYALTY_REPLYARENA_H

#include <hiredis/read.h>

#define REPLYARENA_CHUNK (64 * 1024) /* ~a batch of 200 entries' reply objects */
#define REPLYARENA_KEEP 32           /* 2 MiB kept: an XREAD of 4,096 entries */

struct replyarena;

/* Makes reader `r` build its replies in a new arena. Returns the arena, or
 * NULL when out of memory (the reader then keeps hiredis' functions). */
struct replyarena *replyarena_attach(redisReader *r);

/* The owner is done with the arena (its context is being freed); `a` may
 * be NULL. Do not use `a` afterwards. */
void replyarena_release(struct replyarena *a);

#endif
