/* Bump allocator: a graph's names, attribute payloads and folded constants
 * live here and are freed all at once with the graph. */
#include <stdlib.h>
#include <string.h>
#include "ir.h"

typedef struct Block { struct Block *next; size_t size, used; } Block;
struct Arena { Block *head; };

Arena *arena_new(void) { return calloc(1, sizeof(Arena)); }

void arena_free(Arena *a)
{
	if (!a)
		return;
	for (Block *b = a->head, *n; b; b = n) {
		n = b->next;
		free(b);
	}
	free(a);
}

void *arena_alloc(Arena *a, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	Block *b = a->head;
	if (!b || b->size - b->used < n) {
		size_t sz = n > 60000 ? n : 65536 - 64;
		b = malloc(sizeof(Block) + 16 + sz);
		if (!b)
			return NULL;
		b->size = sz;
		b->used = 0;
		if (a->head && n > 60000) {   /* keep filling the current block */
			b->next = a->head->next;
			a->head->next = b;
		} else {
			b->next = a->head;
			a->head = b;
		}
	}
	char *base = (char *)(((uintptr_t)(b + 1) + 15) & ~(uintptr_t)15);
	void *p = base + b->used;
	b->used += n;
	memset(p, 0, n);
	return p;
}

char *arena_strndup(Arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);
	if (p && n)
		memcpy(p, s, n);
	return p;
}

char *arena_strdup(Arena *a, const char *s) { return s ? arena_strndup(a, s, strlen(s)) : NULL; }

void *arena_memdup(Arena *a, const void *p, size_t n)
{
	void *q = arena_alloc(a, n ? n : 1);
	if (q && n)
		memcpy(q, p, n);
	return q;
}
