/*
 * trace_rec_internal: the recorder's mapping and handle, shared by the
 * recorder (trace_rec.c) and the collector that drains it
 * (trace_collector.c) and by nothing else.
 *
 * The mapping is the header pages (magic, max_lanes, capacity, ring
 * stride, epoch, the published lane count and the pending bitmap, one bit a
 * lane), then max_lanes rings at fixed offsets.  Nothing in it is a
 * pointer, so a forked worker uses it as inherited and a spawned one maps
 * the fd (trace_rec_map) and finds its ring from the header alone.
 */
#ifndef OVERLAP_TRACE_REC_INTERNAL_H
#define OVERLAP_TRACE_REC_INTERNAL_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "trace_rec.h"

#define REC_PAGE_BYTES 4096u
#define LANE_WORD_BITS 64u

/* The first pages of the mapping: everything trace_rec_map needs. */
struct rec_header {
	uint64_t magic;
	uint32_t max_lanes;
	uint32_t header_bytes;
	uint64_t capacity;
	uint64_t ring_stride_bytes;
	int64_t epoch_ns;
	_Atomic uint32_t lane_count; /* release-published by add_lane */
	/* Bit id % 64 of word id / 64: lane id may have events.  Producers
	 * set bits (rec_push), the collector clears them. */
	alignas(64) _Atomic uint64_t pending[];
};

static inline uint32_t pending_words(uint32_t max_lanes)
{
	return (max_lanes + LANE_WORD_BITS - 1) / LANE_WORD_BITS;
}

struct rec_lane_info {
	uint8_t kind; /* enum lane_kind */
	char name[32];
};

struct trace_rec {
	int fd;
	void *map;
	size_t map_size;
	struct rec_header *hdr;
	pthread_mutex_t lock;	    /* serialises trace_rec_add_lane */
	struct rec_lane *lanes;	    /* [max_lanes]; written under lock */
	struct rec_lane_info *info; /* [max_lanes]; written under lock */
};

#endif
