/*
 * ilist: a FIFO of the elements of one array, linked through an index
 * field in each element.  No allocation and no pointers in the links, so a
 * list works in memory that processes share at different addresses, and a
 * link costs an element four bytes: with 100,000 tasks that matters.  An
 * element is in at most one list at a time through one link field.
 *
 * The event loop's ready queue and wait lists (model_asyncio.c) and the
 * shared objects' cooperative wait lists (sync_coop.c) are ilists.  The
 * functions are inline: they sit on the loop's hot path.
 */
#ifndef OVERLAP_ILIST_H
#define OVERLAP_ILIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* No element: the end of a list, and an element in none. */
#define ILIST_NIL UINT32_MAX

struct ilist {
	uint32_t head, tail; /* ILIST_NIL when empty */
	uint32_t len;
};

/* Where the links are: element id's link is the uint32_t at
 * base + id * stride + offset. */
struct ilist_links {
	char *base;
	size_t stride;
	size_t offset;
};

/* The links of array (of type) through its field. */
#define ILIST_LINKS(array, type, field)                                        \
	((struct ilist_links){(char *)(array), sizeof(type),                   \
			      offsetof(type, field)})

static inline void ilist_init(struct ilist *l)
{
	l->head = l->tail = ILIST_NIL;
	l->len = 0;
}

static inline uint32_t *ilist_next(struct ilist_links k, uint32_t id)
{
	return (uint32_t *)(void *)(k.base + (size_t)id * k.stride + k.offset);
}

/* Appends id, which must be in no list. */
static inline void ilist_push(struct ilist *l, struct ilist_links k,
			      uint32_t id)
{
	*ilist_next(k, id) = ILIST_NIL;
	if (l->tail == ILIST_NIL)
		l->head = id;
	else
		*ilist_next(k, l->tail) = id;
	l->tail = id;
	l->len++;
}

/* Takes the first element out; ILIST_NIL when the list is empty. */
static inline uint32_t ilist_pop(struct ilist *l, struct ilist_links k)
{
	uint32_t id = l->head;

	if (id == ILIST_NIL)
		return ILIST_NIL;
	l->head = *ilist_next(k, id);
	if (l->head == ILIST_NIL)
		l->tail = ILIST_NIL;
	l->len--;
	*ilist_next(k, id) = ILIST_NIL;
	return id;
}

/* Takes id out of l wherever it is: O(n), for the rare cancel.  Returns
 * false when id was not in l. */
static inline bool ilist_remove(struct ilist *l, struct ilist_links k,
				uint32_t id)
{
	uint32_t prev = ILIST_NIL, cur = l->head;

	while (cur != ILIST_NIL && cur != id) {
		prev = cur;
		cur = *ilist_next(k, cur);
	}
	if (cur == ILIST_NIL)
		return false;
	if (prev == ILIST_NIL)
		l->head = *ilist_next(k, cur);
	else
		*ilist_next(k, prev) = *ilist_next(k, cur);
	if (l->tail == cur)
		l->tail = prev;
	l->len--;
	*ilist_next(k, cur) = ILIST_NIL;
	return true;
}

#endif
