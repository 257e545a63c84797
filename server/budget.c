/*
 * budget.c - the memory answers hold, under one limit (see budget.h).
 */
#include "budget.h"

#include <pthread.h>
#include <stdlib.h>

struct budget {
    size_t limit, reserve;
    pthread_mutex_t mu; /* guards in_use */
    size_t in_use;
    pthread_mutex_t hook_mu; /* guards the hook; taken after mu is released, never with it */
    void (*hook)(void *);
    void *hook_arg;
};

budget *budget_new(size_t limit)
{
    budget *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->limit = limit;
    b->reserve = limit / 8;
    if (b->reserve < ((size_t)4 << 20)) b->reserve = (size_t)4 << 20;
    if (b->reserve > limit / 2) b->reserve = limit / 2;
    pthread_mutex_init(&b->mu, NULL);
    pthread_mutex_init(&b->hook_mu, NULL);
    return b;
}

void budget_free(budget *b)
{
    if (!b) return;
    pthread_mutex_destroy(&b->mu);
    pthread_mutex_destroy(&b->hook_mu);
    free(b);
}

size_t budget_limit(const budget *b) { return b->limit; }

size_t budget_max_claim(const budget *b) { return b->limit - b->reserve; }

size_t budget_in_use(budget *b)
{
    pthread_mutex_lock(&b->mu);
    size_t n = b->in_use;
    pthread_mutex_unlock(&b->mu);
    return n;
}

bool budget_try(budget *b, size_t bytes, budget_claim *c)
{
    *c = (budget_claim){NULL, 0};
    if (!b) return true;
    size_t cap = bytes <= BUDGET_SMALL_BYTES ? b->limit : b->limit - b->reserve;
    pthread_mutex_lock(&b->mu);
    bool fits = bytes <= cap && b->in_use <= cap - bytes;
    if (fits) b->in_use += bytes;
    pthread_mutex_unlock(&b->mu);
    if (fits) *c = (budget_claim){b, bytes};
    return fits;
}

void budget_force(budget *b, size_t bytes, budget_claim *c)
{
    *c = (budget_claim){NULL, 0};
    if (!b) return;
    pthread_mutex_lock(&b->mu);
    b->in_use += bytes;
    pthread_mutex_unlock(&b->mu);
    *c = (budget_claim){b, bytes};
}

void budget_set(budget_claim *c, size_t bytes)
{
    if (!c->b) return;
    pthread_mutex_lock(&c->b->mu);
    c->b->in_use = c->b->in_use - c->bytes + bytes;
    pthread_mutex_unlock(&c->b->mu);
    c->bytes = bytes;
}

void budget_release(budget_claim *c)
{
    budget *b = c->b;
    if (!b) return;
    pthread_mutex_lock(&b->mu);
    b->in_use -= c->bytes;
    pthread_mutex_unlock(&b->mu);
    *c = (budget_claim){NULL, 0};
    pthread_mutex_lock(&b->hook_mu);
    if (b->hook) b->hook(b->hook_arg);
    pthread_mutex_unlock(&b->hook_mu);
}

void budget_set_hook(budget *b, void (*fn)(void *), void *arg)
{
    pthread_mutex_lock(&b->hook_mu);
    b->hook = fn;
    b->hook_arg = arg;
    pthread_mutex_unlock(&b->hook_mu);
}
