/*
 * budget.h - the memory that answers hold, from the moment their pass is chosen until
 * they are freed (sent, or dropped with their connection), under one limit.
 *
 * Every answer that runs a forward pass claims its size before its pass may start: the
 * most its text can take when it will be written whole, or its floats and text when it
 * will be streamed (api.h). When the claim does not fit, the pass waits in the queue
 * (workers.h, wk_options.admit) and lighter ones go past it; it gives up at the queue's
 * timeout. Once written, the claim becomes the answer's real size, and whoever frees the
 * answer releases it.
 *
 *   budget *b = budget_new(256 << 20);
 *   budget_claim c;
 *   if (budget_try(b, est, &c)) { ... write ...; budget_set(&c, real); ... }
 *   budget_release(&c);         // when the answer is freed; safe to repeat
 *
 * Small answers (at most BUDGET_SMALL_BYTES) may fill the whole limit; bigger ones only
 * leave BUDGET_RESERVE of it to the small ones, so that clients that never read their
 * big answers do not stop the others' small requests.
 *
 * Thread-safe. A release calls the hook set with budget_set_hook (the workers look at
 * their queue again), outside the budget's own lock.
 */
#ifndef ENCODERD_BUDGET_H
#define ENCODERD_BUDGET_H

#include <stdbool.h>
#include <stddef.h>

/* An answer this small is never held back by big ones (embeddings, tokens, errors). */
#define BUDGET_SMALL_BYTES ((size_t)1 << 20)

typedef struct budget budget;

/* Bytes held for one answer; {NULL, 0} holds nothing. */
typedef struct {
    budget *b;
    size_t bytes;
} budget_claim;

/* A budget of `limit` bytes; its reserve for small answers is an eighth of it, at least
 * 4 MB and at most half. NULL when out of memory. */
budget *budget_new(size_t limit);
/* Frees it (NULL is allowed); every claim must have been released. */
void budget_free(budget *b);

size_t budget_limit(const budget *b);
size_t budget_in_use(budget *b);
/* The most one big answer may ever claim (the limit less the reserve): a request whose
 * answer needs more can never run. */
size_t budget_max_claim(const budget *b);

/* Claims `bytes` when they fit now (see the top); true and *c filled, else false and *c
 * emptied. b NULL: nothing is counted, and it always fits. */
bool budget_try(budget *b, size_t bytes, budget_claim *c);
/* Claims `bytes` whether they fit or not (an answer already written, outside the
 * queue). b NULL: nothing. */
void budget_force(budget *b, size_t bytes, budget_claim *c);
/* The claim becomes `bytes` (an answer's real size, once written). */
void budget_set(budget_claim *c, size_t bytes);
/* Gives the claim back and empties it; then calls the hook. Empty claims are allowed. */
void budget_release(budget_claim *c);

/* fn(arg) after each release, from the releasing thread, never under the budget's lock;
 * fn NULL: none. Once this returns with NULL, no call of the old hook is under way or to
 * come (so its arg may be freed). */
void budget_set_hook(budget *b, void (*fn)(void *), void *arg);

#endif
