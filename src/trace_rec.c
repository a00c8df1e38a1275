/*
 * trace_rec: the recorder, one memfd mapped MAP_SHARED
 * (trace_rec_internal.h has its layout).  The file is sparse: a ring's
 * pages exist once its lane writes to them.
 *
 * Lanes are added under rec->lock; the lane's handle and name are written
 * first and the lane count is published last with a release store, so the
 * collector, which reads the count with an acquire load and never takes the
 * lock, sees only complete lanes.
 */
#include "trace_rec.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "trace_rec_internal.h"

#define REC_MAGIC 0x45434152544c564fULL /* "OVLTRACE" little-endian */

/* The header and its bitmap, in whole pages. */
static uint64_t rec_header_bytes(uint32_t max_lanes)
{
	uint64_t bytes = sizeof(struct rec_header) +
			 (uint64_t)pending_words(max_lanes) * sizeof(uint64_t);

	return (bytes + REC_PAGE_BYTES - 1) / REC_PAGE_BYTES * REC_PAGE_BYTES;
}

static void lane_set_pending(struct rec_lane *lane, struct rec_header *h,
			     uint32_t id)
{
	lane->pending = &h->pending[id / LANE_WORD_BITS];
	lane->pending_bit = 1ull << (id % LANE_WORD_BITS);
}

static struct ring *rec_ring_at(void *map, const struct rec_header *h,
				uint32_t id)
{
	return (struct ring *)((char *)map + h->header_bytes +
			       (size_t)id * h->ring_stride_bytes);
}

static bool is_power_of_two(uint64_t x)
{
	return x && !(x & (x - 1));
}

struct trace_rec *trace_rec_create(uint32_t max_lanes, uint64_t ring_capacity,
				   int64_t epoch_ns)
{
	struct trace_rec *rec;
	uint64_t stride, header_bytes;

	if (!max_lanes || ring_capacity < 2 ||
	    !is_power_of_two(ring_capacity) ||
	    ring_capacity > (UINT64_MAX / 2) / sizeof(struct rec_event))
		return NULL;
	stride = ring_size_bytes(ring_capacity);
	stride =
		(stride + REC_PAGE_BYTES - 1) / REC_PAGE_BYTES * REC_PAGE_BYTES;
	header_bytes = rec_header_bytes(max_lanes);
	if (stride > (SIZE_MAX - header_bytes) / max_lanes)
		return NULL;

	rec = calloc(1, sizeof(*rec));
	if (!rec)
		return NULL;
	rec->lanes = calloc(max_lanes, sizeof(*rec->lanes));
	rec->info = calloc(max_lanes, sizeof(*rec->info));
	if (!rec->lanes || !rec->info)
		goto out_free;
	rec->map_size = header_bytes + (size_t)stride * max_lanes;
	rec->fd = memfd_create("overlap-trace", MFD_CLOEXEC);
	if (rec->fd < 0)
		goto out_free;
	if (ftruncate(rec->fd, (off_t)rec->map_size) < 0)
		goto out_close_fd;
	rec->map = mmap(NULL, rec->map_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			rec->fd, 0);
	if (rec->map == MAP_FAILED)
		goto out_close_fd;
	if (pthread_mutex_init(&rec->lock, NULL) != 0)
		goto out_unmap;

	rec->hdr = rec->map;
	rec->hdr->magic = REC_MAGIC;
	rec->hdr->max_lanes = max_lanes;
	rec->hdr->header_bytes = (uint32_t)header_bytes;
	rec->hdr->capacity = ring_capacity;
	rec->hdr->ring_stride_bytes = stride;
	rec->hdr->epoch_ns = epoch_ns;
	atomic_init(&rec->hdr->lane_count, 0);
	/* The pending words start zeroed, as ftruncate made them. */
	return rec;

out_unmap:
	munmap(rec->map, rec->map_size);
out_close_fd:
	close(rec->fd);
out_free:
	free(rec->info);
	free(rec->lanes);
	free(rec);
	return NULL;
}

void trace_rec_destroy(struct trace_rec *rec)
{
	if (!rec)
		return;
	pthread_mutex_destroy(&rec->lock);
	munmap(rec->map, rec->map_size);
	close(rec->fd);
	free(rec->info);
	free(rec->lanes);
	free(rec);
}

struct rec_lane *trace_rec_add_lane(struct trace_rec *rec, enum lane_kind kind,
				    const char *name)
{
	struct rec_lane *lane = NULL;
	uint32_t id;

	pthread_mutex_lock(&rec->lock);
	id = atomic_load_explicit(&rec->hdr->lane_count, memory_order_relaxed);
	if (id >= rec->hdr->max_lanes)
		goto out_unlock;
	lane = &rec->lanes[id];
	lane->ring = ring_init(rec_ring_at(rec->map, rec->hdr, id),
			       rec->hdr->capacity);
	lane->id = id;
	lane->epoch_ns = rec->hdr->epoch_ns;
	lane_set_pending(lane, rec->hdr, id);
	rec->info[id].kind = (uint8_t)kind;
	util_strlcpy(rec->info[id].name, name ? name : "",
		     sizeof(rec->info[id].name));
	/* Publish last: the collector reads the count, then the lane. */
	atomic_store_explicit(&rec->hdr->lane_count, id + 1,
			      memory_order_release);
out_unlock:
	pthread_mutex_unlock(&rec->lock);
	return lane;
}

uint32_t trace_rec_lane_count(const struct trace_rec *rec)
{
	return atomic_load_explicit(&rec->hdr->lane_count,
				    memory_order_acquire);
}

struct rec_lane *trace_rec_lane(struct trace_rec *rec, uint32_t id)
{
	if (id >= trace_rec_lane_count(rec))
		return NULL;
	return &rec->lanes[id];
}

int64_t trace_rec_epoch(const struct trace_rec *rec)
{
	return rec->hdr->epoch_ns;
}

int trace_rec_fd(const struct trace_rec *rec)
{
	return rec->fd;
}

size_t trace_rec_map_size(const struct trace_rec *rec)
{
	return rec->map_size;
}

int trace_rec_map(int fd, size_t size, uint32_t lane_id, struct rec_lane *lane)
{
	struct rec_header *h;
	void *map;
	int ret = -EINVAL;

	if (size < REC_PAGE_BYTES)
		return -EINVAL;
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	h = map;
	if (h->magic != REC_MAGIC ||
	    h->header_bytes != rec_header_bytes(h->max_lanes) ||
	    !is_power_of_two(h->capacity) ||
	    (uint64_t)size !=
		    h->header_bytes + h->ring_stride_bytes * h->max_lanes)
		goto out_unmap;
	if (lane_id >=
	    atomic_load_explicit(&h->lane_count, memory_order_acquire)) {
		ret = -ENOENT;
		goto out_unmap;
	}
	/* The mapping stays for the worker's life: its ring lives in it. */
	lane->ring = rec_ring_at(map, h, lane_id);
	lane->id = lane_id;
	lane->epoch_ns = h->epoch_ns;
	lane_set_pending(lane, h, lane_id);
	return 0;

out_unmap:
	munmap(map, size);
	return ret;
}
