/*
 * trace: the recorder, the collector and the trace they fill.
 *
 * The recorder is one memfd mapped MAP_SHARED: the header pages (magic,
 * max_lanes, capacity, ring stride, epoch, the published lane count and
 * the pending bitmap, one bit a lane), then max_lanes rings at fixed
 * offsets.  Nothing in it is a pointer, so a forked worker uses it as
 * inherited and a spawned one maps the fd (trace_rec_map) and finds its
 * ring from the header alone.  The file is sparse: a ring's pages exist
 * once its lane writes to them.
 *
 * Lanes are added under rec->lock; the lane's handle and name are written
 * first and the lane count is published last with a release store, so the
 * collector, which reads the count with an acquire load and never takes the
 * lock, sees only complete lanes.
 *
 * The collector thread is the only writer of the trace while it runs: it
 * drains each pending ring in turn every interval, applies the events
 * (segments appended, task times set, samples added), then hands each one
 * to the sink.  Events arrive grouped by lane, not in time order; the
 * segments are sorted by (t0, task) once, at stop.
 *
 * Pacing: a pass visits the lanes whose pending bit is set (rec_push sets
 * it; the pass clears a word before draining its lanes), so 10,000 idle
 * thread lanes cost a scan of 157 words, not 10,000 rings' cache lines and
 * pages.  The bit is a hint: a producer's head store still on its way when
 * the pass clears the bit the producer saw set can leave an event
 * unannounced, so a pass every SWEEP_INTERVALS intervals visits every
 * lane, which bounds how late such an event can be, and the drain at stop
 * visits all.  A ring that gives its whole budget in a pass is behind its
 * producer (a loop starting 100,000 tasks), so the next pass starts at
 * once rather than an interval later.  One that gives half of it would
 * fill before the next pass, and its producer would wait: the wait
 * between passes halves while that goes on (down to a 64th of the
 * interval) and doubles back to the interval once every ring gives less
 * than an eighth, so the pace follows the busiest producer, not the luck
 * of where its burst falls between two passes.
 */
#include "trace.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* ---- names -------------------------------------------------------------- */

static const char *const seg_state_names[ST__COUNT] = {
	[ST_QUEUED] = "queued",
	[ST_STARTUP] = "startup",
	[ST_COMPUTE] = "compute",
	[ST_IO] = "io",
	[ST_SLEEP] = "sleep",
	[ST_GIL_WAIT] = "gil-wait",
	[ST_LOCK_WAIT] = "lock-wait",
	[ST_SEM_WAIT] = "sem-wait",
	[ST_QUEUE_WAIT] = "queue-wait",
	[ST_BARRIER_WAIT] = "barrier-wait",
	[ST_EVENT_WAIT] = "event-wait",
	[ST_RATE_WAIT] = "rate-wait",
	[ST_BACKOFF] = "backoff",
	[ST_IPC] = "ipc",
	[ST_CONNECT] = "connect",
};

static const char *const lane_kind_names[] = {
	[LANE_MAIN] = "main",
	[LANE_THREAD] = "thread",
	[LANE_PROCESS] = "process",
	[LANE_LOOP] = "loop",
};

static const char *const task_status_names[] = {
	[TASK_PENDING] = "pending", [TASK_OK] = "ok",
	[TASK_ERROR] = "error",	    [TASK_TIMEOUT] = "timeout",
	[TASK_CANCELLED] = "cancelled",
};

static const char *const run_status_names[] = {
	[RUN_QUEUED] = "queued",
	[RUN_RUNNING] = "running",
	[RUN_DONE] = "done",
	[RUN_ERROR] = "error",
	[RUN_CANCELLED] = "cancelled",
	[RUN_INTERRUPTED] = "interrupted",
	[RUN_DEADLOCK] = "deadlock",
};

static const char *const counter_names[CTR__COUNT] = {
	[CTR_QUEUE_DEPTH] = "queue_depth",
};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

static const char *name_of(const char *const *names, size_t n, unsigned i)
{
	return i < n && names[i] ? names[i] : "unknown";
}

static int parse_name(const char *const *names, size_t n, const char *name)
{
	if (!name)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (names[i] && strcmp(names[i], name) == 0)
			return (int)i;
	return -1;
}

const char *seg_state_name(enum seg_state s)
{
	return name_of(seg_state_names, COUNT_OF(seg_state_names), s);
}

int seg_state_parse(const char *name)
{
	return parse_name(seg_state_names, COUNT_OF(seg_state_names), name);
}

const char *lane_kind_name(enum lane_kind k)
{
	return name_of(lane_kind_names, COUNT_OF(lane_kind_names), k);
}

const char *task_status_name(enum task_status s)
{
	return name_of(task_status_names, COUNT_OF(task_status_names), s);
}

const char *run_status_name(enum run_status s)
{
	return name_of(run_status_names, COUNT_OF(run_status_names), s);
}

int run_status_parse(const char *name)
{
	return parse_name(run_status_names, COUNT_OF(run_status_names), name);
}

const char *trace_counter_name(enum trace_counter c)
{
	return name_of(counter_names, COUNT_OF(counter_names), c);
}

/* ---- recording ---------------------------------------------------------- */

#define REC_MAGIC 0x45434152544c564fULL /* "OVLTRACE" little-endian */
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

static uint32_t pending_words(uint32_t max_lanes)
{
	return (max_lanes + LANE_WORD_BITS - 1) / LANE_WORD_BITS;
}

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
	stride = (stride + REC_PAGE_BYTES - 1) / REC_PAGE_BYTES *
		 REC_PAGE_BYTES;
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
	rec->map = mmap(NULL, rec->map_size, PROT_READ | PROT_WRITE,
			MAP_SHARED, rec->fd, 0);
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

struct rec_lane *trace_rec_add_lane(struct trace_rec *rec,
				    enum lane_kind kind, const char *name)
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

int trace_rec_map(int fd, size_t size, uint32_t lane_id,
		  struct rec_lane *lane)
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
	    (uint64_t)size != h->header_bytes +
				      h->ring_stride_bytes * h->max_lanes)
		goto out_unmap;
	if (lane_id >= atomic_load_explicit(&h->lane_count,
					    memory_order_acquire)) {
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

/* ---- the trace ---------------------------------------------------------- */

void trace_init(struct trace *t)
{
	memset(t, 0, sizeof(*t));
	t->status = RUN_QUEUED;
	t->summary.max_loop_lag_ns = -1;
	t->cap_notes = 8;
	t->notes = util_xcalloc(t->cap_notes, sizeof(*t->notes));
	t->notes[0] = util_xstrdup("");
	t->n_notes = 1;
	t->cap_labels = 8;
	t->labels = util_xcalloc(t->cap_labels, sizeof(*t->labels));
	t->labels[0] = util_xstrdup("");
	t->n_labels = 1;
}

void trace_free(struct trace *t)
{
	json_decref(t->params);
	json_decref(t->options);
	json_decref(t->summary.checks);
	free(t->lanes);
	free(t->tasks);
	free(t->segments);
	free(t->samples);
	for (size_t i = 0; i < t->n_notes; i++)
		free(t->notes[i]);
	free(t->notes);
	for (size_t i = 0; i < t->n_labels; i++)
		free(t->labels[i]);
	free(t->labels);
	memset(t, 0, sizeof(*t));
}

/* Grows an array by one zeroed element; returns it. */
static void *grow(void **items, size_t *n, size_t *cap, size_t size)
{
	char *slot;

	if (*n == *cap) {
		size_t cap2 = *cap ? *cap * 2 : 16;

		*items = util_xrealloc(*items, cap2 * size);
		*cap = cap2;
	}
	slot = (char *)*items + *n * size;
	memset(slot, 0, size);
	(*n)++;
	return slot;
}

struct trace_lane *trace_add_lane(struct trace *t)
{
	struct trace_lane *l = grow((void **)&t->lanes, &t->n_lanes,
				    &t->cap_lanes, sizeof(*l));

	l->id = (uint32_t)(t->n_lanes - 1);
	return l;
}

struct trace_task *trace_add_task(struct trace *t)
{
	struct trace_task *k = grow((void **)&t->tasks, &t->n_tasks,
				    &t->cap_tasks, sizeof(*k));

	k->id = (uint32_t)(t->n_tasks - 1);
	k->lane = UINT32_MAX;
	k->submit_ns = k->start_ns = k->end_ns = -1;
	k->status = TASK_PENDING;
	return k;
}

struct trace_segment *trace_add_segment(struct trace *t)
{
	return grow((void **)&t->segments, &t->n_segments, &t->cap_segments,
		    sizeof(struct trace_segment));
}

struct trace_sample *trace_add_sample(struct trace *t)
{
	return grow((void **)&t->samples, &t->n_samples, &t->cap_samples,
		    sizeof(struct trace_sample));
}

uint32_t trace_note(struct trace *t, const char *text)
{
	char **slot;

	if (!text || !*text)
		return 0;
	/* Notes are object names and a few messages: a scan is enough. */
	for (size_t i = 1; i < t->n_notes; i++)
		if (strcmp(t->notes[i], text) == 0)
			return (uint32_t)i;
	slot = grow((void **)&t->notes, &t->n_notes, &t->cap_notes,
		    sizeof(*slot));
	*slot = util_xstrdup(text);
	return (uint32_t)(t->n_notes - 1);
}

/* How many of the newest labels trace_task_set_label() looks through for
 * the one it is given.  A run's tasks share a few labels, given in runs
 * ("request", "request", ...); a trace read from JSON whose names all
 * differ stores each once, without a search that grows with the tasks. */
#define LABEL_SCAN_MAX 16

void trace_task_set_label(struct trace *t, struct trace_task *k,
			  const char *label, uint32_t number)
{
	size_t i = t->n_labels, stop;
	char **slot;

	stop = i > LABEL_SCAN_MAX ? i - LABEL_SCAN_MAX : 0;
	while (i > stop && strcmp(t->labels[i - 1], label) != 0)
		i--;
	if (i > stop) {
		k->label = (uint32_t)(i - 1);
	} else {
		slot = grow((void **)&t->labels, &t->n_labels, &t->cap_labels,
			    sizeof(*slot));
		*slot = util_xstrdup(label);
		k->label = (uint32_t)(t->n_labels - 1);
	}
	k->number = number;
	k->numbered = true;
}

/* The number that ends name after its last space, when it is written as
 * "%u" writes it (so the name comes back exactly); -1 otherwise. */
static int64_t name_number(const char *digits)
{
	int64_t n = 0;

	if (!*digits || (digits[0] == '0' && digits[1]))
		return -1;
	for (; *digits; digits++) {
		if (*digits < '0' || *digits > '9')
			return -1;
		n = n * 10 + (*digits - '0');
		if (n > UINT32_MAX)
			return -1;
	}
	return n;
}

void trace_task_set_name(struct trace *t, struct trace_task *k,
			 const char *name)
{
	const char *space = strrchr(name, ' ');
	int64_t number = space ? name_number(space + 1) : -1;
	char label[TRACE_TASK_NAME_MAX];
	size_t len = space ? (size_t)(space - name) : 0;

	if (number >= 0 && len < sizeof(label)) {
		memcpy(label, name, len);
		label[len] = '\0';
		trace_task_set_label(t, k, label, (uint32_t)number);
	} else {
		trace_task_set_label(t, k, name, 0);
		k->numbered = false;
	}
}

char *trace_task_name(const struct trace *t, const struct trace_task *k,
		      char *buf, size_t size)
{
	const char *label = k->label < t->n_labels ? t->labels[k->label] : "";

	if (size > TRACE_TASK_NAME_MAX)
		size = TRACE_TASK_NAME_MAX;
	if (k->numbered)
		snprintf(buf, size, "%s %u", label, k->number);
	else
		snprintf(buf, size, "%s", label);
	return buf;
}

const char *trace_task_note(const struct trace *t, const struct trace_task *k)
{
	return k->note < t->n_notes ? t->notes[k->note] : "";
}

bool trace_message_names_status(const struct trace *t)
{
	const char *st = run_status_name((enum run_status)t->status);
	size_t n = strlen(st);

	return strncmp(t->message, st, n) == 0 && t->message[n] == ':';
}

/* ---- collecting --------------------------------------------------------- */

#define DRAIN_BATCH 256
/* Every this many intervals the collector visits every lane, pending or
 * not (64 ms at the run's 1 ms interval): the bound on how late a missed
 * hint can make an event. */
#define SWEEP_INTERVALS 64
/* The shortest wait between passes, as a fraction of the interval. */
#define WAIT_SHRINK_MAX 64

/* What one pass found. */
struct pass_result {
	bool more;	       /* a ring gave its whole budget */
	unsigned fill_eighths; /* the most any ring gave, in eighths of its
				* capacity (8: its whole budget) */
};

struct trace_collector {
	struct trace_rec *rec;
	struct trace *t;
	const char *const *note_names;
	size_t n_note_names;
	uint32_t *note_map; /* object index -> trace note; UINT32_MAX unset */
	int64_t interval_ns;
	trace_sink_fn sink;
	void *ctx;

	pthread_t thread;
	pthread_mutex_t lock; /* protects stopping */
	pthread_cond_t wake;
	bool stopping;

	struct rec_event batch[DRAIN_BATCH]; /* collector thread only */
};

static uint32_t collector_note(struct trace_collector *c, uint32_t note)
{
	const char *fixed = rec_fixed_note_name(note);
	size_t obj;

	if (fixed)
		return trace_note(c->t, fixed);
	if (note == 0 || note - 1 >= c->n_note_names)
		return 0;
	obj = note - 1;
	if (c->note_map[obj] == UINT32_MAX)
		c->note_map[obj] = trace_note(c->t, c->note_names[obj]);
	return c->note_map[obj];
}

static void collector_emit(struct trace_collector *c,
			   const struct rec_event *ev)
{
	if (c->sink)
		c->sink(c->ctx, c->t, ev);
}

static void task_set_end(struct trace *t, struct trace_task *k,
			 const struct rec_event *ev)
{
	k->end_ns = ev->t0_ns;
	k->status = ev->state >= TASK_OK && ev->state <= TASK_CANCELLED
			    ? ev->state
			    : TASK_ERROR;
	if (ev->extra) {
		const char *abbrev = sigabbrev_np(ev->extra);
		char note[TRACE_TASK_NOTE_MAX];

		if (abbrev)
			snprintf(note, sizeof(note),
				 "worker killed by signal %u (SIG%s)",
				 (unsigned)ev->extra, abbrev);
		else
			snprintf(note, sizeof(note),
				 "worker killed by signal %u",
				 (unsigned)ev->extra);
		k->note = trace_note(t, note);
	}
}

static void collector_apply(struct trace_collector *c,
			    const struct rec_event *in)
{
	struct trace *t = c->t;
	struct rec_event ev = *in;
	struct trace_segment *s;
	struct trace_sample *sample;
	bool has_task = ev.task < t->n_tasks;

	if (ev.lane >= t->n_lanes)
		return;
	switch (ev.type) {
	case EV_SEGMENT:
		if (!has_task || ev.state >= ST__COUNT)
			return;
		ev.note = collector_note(c, ev.note);
		s = trace_add_segment(t);
		s->t0_ns = ev.t0_ns;
		s->t1_ns = ev.t1_ns;
		s->task = ev.task;
		s->lane = ev.lane;
		s->note = ev.note;
		s->state = ev.state;
		break;
	case EV_OPEN:
		if (!has_task || ev.state >= ST__COUNT)
			return;
		ev.note = collector_note(c, ev.note);
		break;
	case EV_TASK_SUBMIT:
		if (!has_task)
			return;
		t->tasks[ev.task].submit_ns = ev.t0_ns;
		break;
	case EV_TASK_START:
		if (!has_task)
			return;
		t->tasks[ev.task].start_ns = ev.t0_ns;
		t->tasks[ev.task].lane = ev.lane;
		break;
	case EV_TASK_END:
		if (!has_task)
			return;
		task_set_end(t, &t->tasks[ev.task], &ev);
		break;
	case EV_LANE_OS_ID:
		t->lanes[ev.lane].os_id = ev.t0_ns;
		break;
	case EV_COUNTER:
		if (ev.extra >= CTR__COUNT)
			return;
		sample = trace_add_sample(t);
		sample->t_ns = ev.t0_ns;
		sample->value = ev.t1_ns;
		sample->counter = (uint8_t)ev.extra;
		break;
	default:
		return;
	}
	collector_emit(c, &ev);
}

/* Mirrors lanes that rec has and the trace does not yet; returns how many
 * lanes rec had, which is how many rings the drain may then read (a lane
 * published after this call waits for the next pass, so no event arrives
 * before its lane is in the trace). */
static uint32_t collector_sync_lanes(struct trace_collector *c)
{
	uint32_t count = trace_rec_lane_count(c->rec);

	while (c->t->n_lanes < count) {
		uint32_t id = (uint32_t)c->t->n_lanes;
		struct trace_lane *l = trace_add_lane(c->t);
		struct rec_event ev = {.type = EV_LANE_ADD, .lane = id};

		l->id = id;
		l->kind = c->rec->info[id].kind;
		util_strlcpy(l->name, c->rec->info[id].name, sizeof(l->name));
		collector_emit(c, &ev);
	}
	return count;
}

/* Drains one ring, at most its capacity so one busy lane cannot starve
 * the others.  Returns the events taken; res->more is set when the ring
 * gave its whole budget, so events are likely left behind. */
static size_t collector_drain_ring(struct trace_collector *c, uint32_t id,
				   struct pass_result *res)
{
	struct ring *r = c->rec->lanes[id].ring;
	uint64_t budget = r->capacity;
	size_t n, total = 0;

	do {
		n = ring_pop(r, c->batch, DRAIN_BATCH);
		for (size_t i = 0; i < n; i++)
			collector_apply(c, &c->batch[i]);
		total += n;
		budget = n < budget ? budget - n : 0;
	} while (n == DRAIN_BATCH && budget);
	if (!budget)
		res->more = true;
	n = (size_t)(total * 8 / r->capacity);
	if (n > res->fill_eighths)
		res->fill_eighths = (unsigned)n;
	return total;
}

/* One pass: every lane whose pending bit is set, or every lane when sweep.
 * Returns the events taken; res as collector_drain_ring. */
static size_t collector_drain(struct trace_collector *c, bool sweep,
			      struct pass_result *res)
{
	_Atomic uint64_t *pending = c->rec->hdr->pending;
	uint32_t count;
	size_t total = 0;

	count = collector_sync_lanes(c);
	for (uint32_t w = 0; w < pending_words(count); w++) {
		uint64_t bits = atomic_load_explicit(&pending[w],
						     memory_order_relaxed);
		uint32_t lanes_here = count - w * LANE_WORD_BITS;
		uint64_t again = 0;
		size_t n;

		/* Cleared before the rings are read: an event pushed from
		 * now on sets the bit again for the next pass.  Acquire
		 * pairs with the producer's release OR. */
		if (bits)
			bits = atomic_exchange_explicit(&pending[w], 0,
							memory_order_acquire);
		if (sweep)
			bits |= lanes_here >= LANE_WORD_BITS
					? ~0ull
					: (1ull << lanes_here) - 1;
		while (bits) {
			uint32_t b = (uint32_t)__builtin_ctzll(bits);
			uint32_t id = w * LANE_WORD_BITS + b;

			bits &= bits - 1;
			if (id >= count) {
				/* A lane published after the sync: its
				 * events wait for the next pass, when it is
				 * in the trace. */
				again |= 1ull << b;
				continue;
			}
			/* A lane that gave events stays pending for one
			 * more pass: its producer is likely still busy and
			 * then need not set the bit itself. */
			n = collector_drain_ring(c, id, res);
			if (n)
				again |= 1ull << b;
			total += n;
		}
		if (again)
			atomic_fetch_or_explicit(&pending[w], again,
						 memory_order_relaxed);
	}
	return total;
}

static void timespec_add_ns(struct timespec *ts, int64_t ns)
{
	ts->tv_sec += ns / NS_PER_S;
	ts->tv_nsec += ns % NS_PER_S;
	if (ts->tv_nsec >= NS_PER_S) {
		ts->tv_sec++;
		ts->tv_nsec -= NS_PER_S;
	}
}

static void *collector_main(void *arg)
{
	struct trace_collector *c = arg;
	struct timespec next;
	int64_t wait_ns = c->interval_ns; /* between passes */
	int64_t sweep_ns = SWEEP_INTERVALS * c->interval_ns;
	int64_t sweep_due_ns = util_mono_ns() + sweep_ns;

	clock_gettime(CLOCK_MONOTONIC, &next);
	pthread_mutex_lock(&c->lock);
	while (!c->stopping) {
		struct pass_result res = {0};
		int64_t now_ns = util_mono_ns();
		bool sweep = now_ns >= sweep_due_ns;

		if (sweep)
			sweep_due_ns = now_ns + sweep_ns;
		pthread_mutex_unlock(&c->lock);
		collector_drain(c, sweep, &res);
		pthread_mutex_lock(&c->lock);
		if (res.fill_eighths >= 4) {
			if (wait_ns > c->interval_ns / WAIT_SHRINK_MAX)
				wait_ns /= 2;
		} else if (res.fill_eighths == 0 && wait_ns < c->interval_ns) {
			wait_ns = wait_ns * 2 < c->interval_ns ? wait_ns * 2
							       : c->interval_ns;
		}
		/* A ring is behind its producer, which may be waiting on it
		 * full: drain again now, not a wait later. */
		if (res.more)
			continue;
		timespec_add_ns(&next, wait_ns);
		while (!c->stopping &&
		       pthread_cond_timedwait(&c->wake, &c->lock, &next) !=
			       ETIMEDOUT)
			;
		if (!c->stopping) {
			/* Late (a loaded machine): drain now, not in a burst
			 * of catch-up passes. */
			struct timespec now;

			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec > next.tv_sec ||
			    (now.tv_sec == next.tv_sec &&
			     now.tv_nsec > next.tv_nsec))
				next = now;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

struct trace_collector *trace_collector_start(struct trace_rec *rec,
					      struct trace *t,
					      const char *const *note_names,
					      size_t n_note_names,
					      int64_t interval_ns,
					      trace_sink_fn sink, void *ctx)
{
	struct trace_collector *c;
	pthread_condattr_t attr;

	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->rec = rec;
	c->t = t;
	c->note_names = note_names;
	c->n_note_names = note_names ? n_note_names : 0;
	c->interval_ns = interval_ns > 0 ? interval_ns : NS_PER_MS;
	c->sink = sink;
	c->ctx = ctx;
	c->note_map = malloc((c->n_note_names + 1) * sizeof(*c->note_map));
	if (!c->note_map)
		goto out_free;
	for (size_t i = 0; i < c->n_note_names; i++)
		c->note_map[i] = UINT32_MAX;

	if (pthread_condattr_init(&attr) != 0)
		goto out_free;
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (pthread_cond_init(&c->wake, &attr) != 0) {
		pthread_condattr_destroy(&attr);
		goto out_free;
	}
	pthread_condattr_destroy(&attr);
	if (pthread_mutex_init(&c->lock, NULL) != 0)
		goto out_destroy_cond;
	if (pthread_create(&c->thread, NULL, collector_main, c) != 0)
		goto out_destroy_mutex;
	return c;

out_destroy_mutex:
	pthread_mutex_destroy(&c->lock);
out_destroy_cond:
	pthread_cond_destroy(&c->wake);
out_free:
	free(c->note_map);
	free(c);
	return NULL;
}

static int segment_cmp(const void *a, const void *b)
{
	const struct trace_segment *x = a, *y = b;

	if (x->t0_ns != y->t0_ns)
		return x->t0_ns < y->t0_ns ? -1 : 1;
	if (x->task != y->task)
		return x->task < y->task ? -1 : 1;
	if (x->t1_ns != y->t1_ns)
		return x->t1_ns < y->t1_ns ? -1 : 1;
	if (x->lane != y->lane)
		return x->lane < y->lane ? -1 : 1;
	return (int)x->state - (int)y->state;
}

void trace_collector_stop(struct trace_collector *c)
{
	struct pass_result res = {0};

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stopping = true;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);

	/* The producers have finished: take everything that is left.  One
	 * pass empties every ring; the cap only guards against a producer
	 * that, wrongly, is still writing. */
	for (int pass = 0; pass < 16 && collector_drain(c, true, &res); pass++)
		;
	if (c->t->n_segments > 1)
		qsort(c->t->segments, c->t->n_segments,
		      sizeof(*c->t->segments), segment_cmp);

	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->wake);
	free(c->note_map);
	free(c);
}

/* ---- JSON --------------------------------------------------------------- */

static json_t *json_time(int64_t ns)
{
	return ns < 0 ? json_null() : json_integer(ns);
}

static json_t *json_copy_object(const json_t *obj)
{
	return obj ? json_deep_copy(obj) : json_object();
}

json_t *trace_run_json(const struct trace *t)
{
	return json_pack(
		"{s:s, s:s, s:s, s:o, s:o, s:s, s:s, s:s, s:I,"
		" s:{s:i, s:s, s:s, s:f}}",
		"id", t->id, "workload", t->workload, "model", t->model,
		"params", json_copy_object(t->params), "options",
		json_copy_object(t->options), "status",
		run_status_name(t->status), "message", t->message,
		"started_at", t->started_at, "cpu_ns", (json_int_t)t->cpu_ns,
		"host", "cores", t->host.cores, "kernel", t->host.kernel,
		"engine", t->host.engine, "cpu_iters_per_ms",
		t->host.cpu_iters_per_ms);
}

json_t *trace_lane_json(const struct trace_lane *l)
{
	return json_pack("{s:I, s:s, s:s, s:I}", "id", (json_int_t)l->id,
			 "kind", lane_kind_name(l->kind), "name", l->name,
			 "os_id", (json_int_t)l->os_id);
}

json_t *trace_task_json(const struct trace *t, const struct trace_task *k)
{
	char name[TRACE_TASK_NAME_MAX];

	return json_pack("{s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:s}", "id",
			 (json_int_t)k->id, "name",
			 trace_task_name(t, k, name, sizeof(name)), "lane",
			 k->lane == UINT32_MAX ? json_null()
					       : json_integer(k->lane),
			 "submit_ns", json_time(k->submit_ns), "start_ns",
			 json_time(k->start_ns), "end_ns", json_time(k->end_ns),
			 "status",
			 k->status == TASK_PENDING
				 ? json_null()
				 : json_string(task_status_name(k->status)),
			 "note", trace_task_note(t, k));
}

json_t *trace_segment_json(const struct trace *t,
			   const struct trace_segment *s)
{
	const char *note = s->note < t->n_notes ? t->notes[s->note] : "";

	return json_pack("{s:I, s:I, s:s, s:I, s:I, s:s}", "task",
			 (json_int_t)s->task, "lane", (json_int_t)s->lane,
			 "state", seg_state_name(s->state), "t0_ns",
			 (json_int_t)s->t0_ns, "t1_ns", (json_int_t)s->t1_ns,
			 "note", note);
}

/* summary.lanes: [{lane, busy_ns, util}], util the share of the wall
 * time. */
static json_t *lane_busy_json(const struct trace *t)
{
	const struct trace_summary *m = &t->summary;
	json_t *lanes = json_array();

	for (size_t l = 0; l < t->n_lanes; l++) {
		int64_t busy = t->lanes[l].busy_ns;

		json_array_append_new(
			lanes,
			json_pack("{s:I, s:I, s:f}", "lane",
				  (json_int_t)t->lanes[l].id, "busy_ns",
				  (json_int_t)busy, "util",
				  m->wall_ns > 0
					  ? (double)busy / (double)m->wall_ns
					  : 0.0));
	}
	return lanes;
}

json_t *trace_summary_json(const struct trace *t)
{
	const struct trace_summary *m = &t->summary;
	json_t *states, *out;

	if (!t->has_summary)
		return json_null();
	states = json_object();
	for (int s = 0; s < ST__COUNT; s++)
		json_object_set_new(states, seg_state_name(s),
				    json_integer(m->states_ns[s]));
	out = json_pack(
		"{s:I, s:I, s:f, s:f, s:f, s:I, s:o, s:o,"
		" s:{s:s, s:s, s:s}, s:o}",
		"wall_ns", (json_int_t)m->wall_ns, "task_time_ns",
		(json_int_t)m->task_time_ns, "speedup", m->speedup,
		"parallelism", m->parallelism, "cpu_util", m->cpu_util,
		"peak_inflight", (json_int_t)m->peak_inflight, "states",
		states, "checks", json_copy_object(m->checks), "diagnosis",
		"bound", m->bound, "recommend", m->recommend, "why", m->why,
		"max_loop_lag_ns", json_time(m->max_loop_lag_ns));
	if (out && m->has_lane_busy)
		json_object_set_new(out, "lanes", lane_busy_json(t));
	return out;
}

static json_t *sample_json(const struct trace_sample *s)
{
	return json_pack("{s:s, s:I, s:I}", "name",
			 trace_counter_name(s->counter), "t_ns",
			 (json_int_t)s->t_ns, "value", (json_int_t)s->value);
}

json_t *trace_to_json(const struct trace *t)
{
	json_t *lanes = json_array(), *tasks = json_array();
	json_t *segments = json_array(), *counters = json_array();

	for (size_t i = 0; i < t->n_lanes; i++)
		json_array_append_new(lanes, trace_lane_json(&t->lanes[i]));
	for (size_t i = 0; i < t->n_tasks; i++)
		json_array_append_new(tasks,
				      trace_task_json(t, &t->tasks[i]));
	for (size_t i = 0; i < t->n_segments; i++)
		json_array_append_new(segments,
				      trace_segment_json(t, &t->segments[i]));
	for (size_t i = 0; i < t->n_samples; i++)
		json_array_append_new(counters, sample_json(&t->samples[i]));
	return json_pack("{s:s, s:i, s:o, s:o, s:o, s:o, s:o, s:o}", "format",
			 "overlap-trace", "version", 1, "run",
			 trace_run_json(t), "lanes", lanes, "tasks", tasks,
			 "segments", segments, "counters", counters,
			 "summary", trace_summary_json(t));
}

/* ---- reading JSON ------------------------------------------------------- */

/* Reading keeps the path of the value it is at for the error message,
 * e.g. "segments[3].state". */
struct json_reader {
	char *err;
	size_t err_size;
};

static int rd_fail(struct json_reader *r, const char *path, const char *fmt,
		   ...)
{
	char what[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (r->err && r->err_size)
		snprintf(r->err, r->err_size, "%s: %s", path, what);
	return -EINVAL;
}

static int rd_int(struct json_reader *r, const json_t *obj, const char *path,
		  const char *key, bool nullable, int64_t min, int64_t max,
		  int64_t *out)
{
	const json_t *v = json_object_get(obj, key);
	char where[96];

	snprintf(where, sizeof(where), "%s.%s", path, key);
	if (nullable && (!v || json_is_null(v))) {
		*out = -1;
		return 0;
	}
	if (!json_is_integer(v))
		return rd_fail(r, where, "expected an integer");
	if (json_integer_value(v) < min || json_integer_value(v) > max)
		return rd_fail(r, where, "%" PRId64 " is outside %" PRId64
			       "..%" PRId64, (int64_t)json_integer_value(v),
			       min, max);
	*out = json_integer_value(v);
	return 0;
}

static int rd_real(struct json_reader *r, const json_t *obj,
		   const char *path, const char *key, double *out)
{
	const json_t *v = json_object_get(obj, key);
	char where[96];

	snprintf(where, sizeof(where), "%s.%s", path, key);
	if (!json_is_number(v))
		return rd_fail(r, where, "expected a number");
	*out = json_number_value(v);
	return 0;
}

static int rd_str(struct json_reader *r, const json_t *obj, const char *path,
		  const char *key, char *buf, size_t size)
{
	const json_t *v = json_object_get(obj, key);
	char where[96];

	snprintf(where, sizeof(where), "%s.%s", path, key);
	if (!json_is_string(v))
		return rd_fail(r, where, "expected a string");
	if (json_string_length(v) >= size)
		return rd_fail(r, where, "longer than %zu characters",
			       size - 1);
	memcpy(buf, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int rd_name(struct json_reader *r, const json_t *obj,
		   const char *path, const char *key,
		   const char *const *names, size_t n, int *out)
{
	const json_t *v = json_object_get(obj, key);
	char where[96];

	snprintf(where, sizeof(where), "%s.%s", path, key);
	if (!json_is_string(v))
		return rd_fail(r, where, "expected a string");
	*out = parse_name(names, n, json_string_value(v));
	if (*out < 0)
		return rd_fail(r, where, "unknown value \"%.40s\"",
			       json_string_value(v));
	return 0;
}

static int rd_object_copy(struct json_reader *r, const json_t *obj,
			  const char *path, const char *key, json_t **out)
{
	const json_t *v = json_object_get(obj, key);
	char where[96];

	snprintf(where, sizeof(where), "%s.%s", path, key);
	if (!json_is_object(v))
		return rd_fail(r, where, "expected an object");
	json_decref(*out);
	*out = json_deep_copy(v);
	return 0;
}

static int read_run(struct json_reader *r, const json_t *run, struct trace *t)
{
	const json_t *host = json_object_get(run, "host");
	int64_t cores, cpu_ns = 0;
	int status;
	int ret;

	if (!json_is_object(run))
		return rd_fail(r, "run", "expected an object");
	if ((ret = rd_str(r, run, "run", "id", t->id, sizeof(t->id))) ||
	    (ret = rd_str(r, run, "run", "workload", t->workload,
			  sizeof(t->workload))) ||
	    (ret = rd_str(r, run, "run", "model", t->model,
			  sizeof(t->model))) ||
	    (ret = rd_object_copy(r, run, "run", "params", &t->params)) ||
	    (ret = rd_object_copy(r, run, "run", "options", &t->options)) ||
	    (ret = rd_name(r, run, "run", "status", run_status_names,
			   COUNT_OF(run_status_names), &status)) ||
	    (ret = rd_str(r, run, "run", "started_at", t->started_at,
			  sizeof(t->started_at))))
		return ret;
	t->status = (uint8_t)status;
	if (json_object_get(run, "message") &&
	    (ret = rd_str(r, run, "run", "message", t->message,
			  sizeof(t->message))))
		return ret;
	if (json_object_get(run, "cpu_ns") &&
	    (ret = rd_int(r, run, "run", "cpu_ns", false, 0, INT64_MAX,
			  &cpu_ns)))
		return ret;
	t->cpu_ns = cpu_ns;

	if (!json_is_object(host))
		return rd_fail(r, "run.host", "expected an object");
	if ((ret = rd_int(r, host, "run.host", "cores", false, 0, 1 << 20,
			  &cores)) ||
	    (ret = rd_str(r, host, "run.host", "kernel", t->host.kernel,
			  sizeof(t->host.kernel))) ||
	    (ret = rd_str(r, host, "run.host", "engine", t->host.engine,
			  sizeof(t->host.engine))))
		return ret;
	t->host.cores = (int)cores;
	if (json_object_get(host, "cpu_iters_per_ms") &&
	    (ret = rd_real(r, host, "run.host", "cpu_iters_per_ms",
			   &t->host.cpu_iters_per_ms)))
		return ret;
	return 0;
}

static int read_lanes(struct json_reader *r, const json_t *arr,
		      struct trace *t)
{
	const json_t *v;
	size_t i;
	char path[48];
	int ret;

	json_array_foreach(arr, i, v) {
		struct trace_lane *l = trace_add_lane(t);
		int64_t id, os_id;
		int kind;

		snprintf(path, sizeof(path), "lanes[%zu]", i);
		if (!json_is_object(v))
			return rd_fail(r, path, "expected an object");
		if ((ret = rd_int(r, v, path, "id", false, 0, INT64_MAX,
				  &id)) ||
		    (ret = rd_name(r, v, path, "kind", lane_kind_names,
				   COUNT_OF(lane_kind_names), &kind)) ||
		    (ret = rd_str(r, v, path, "name", l->name,
				  sizeof(l->name))) ||
		    (ret = rd_int(r, v, path, "os_id", false, INT64_MIN,
				  INT64_MAX, &os_id)))
			return ret;
		if ((size_t)id != i)
			return rd_fail(r, path, "id %" PRId64
				       " is not its index %zu", id, i);
		l->kind = (uint8_t)kind;
		l->os_id = os_id;
	}
	return 0;
}

static int read_tasks(struct json_reader *r, const json_t *arr,
		      struct trace *t)
{
	const json_t *v;
	size_t i;
	char path[48];
	int ret;

	json_array_foreach(arr, i, v) {
		struct trace_task *k = trace_add_task(t);
		const json_t *status;
		int64_t id, lane;
		char name[TRACE_TASK_NAME_MAX], note[TRACE_TASK_NOTE_MAX];

		snprintf(path, sizeof(path), "tasks[%zu]", i);
		if (!json_is_object(v))
			return rd_fail(r, path, "expected an object");
		if ((ret = rd_int(r, v, path, "id", false, 0, INT64_MAX,
				  &id)) ||
		    (ret = rd_str(r, v, path, "name", name, sizeof(name))) ||
		    (ret = rd_int(r, v, path, "lane", true, 0,
				  (int64_t)t->n_lanes - 1, &lane)) ||
		    (ret = rd_int(r, v, path, "submit_ns", true, 0, INT64_MAX,
				  &k->submit_ns)) ||
		    (ret = rd_int(r, v, path, "start_ns", true, 0, INT64_MAX,
				  &k->start_ns)) ||
		    (ret = rd_int(r, v, path, "end_ns", true, 0, INT64_MAX,
				  &k->end_ns)) ||
		    (ret = rd_str(r, v, path, "note", note, sizeof(note))))
			return ret;
		trace_task_set_name(t, k, name);
		k->note = trace_note(t, note);
		if ((size_t)id != i)
			return rd_fail(r, path, "id %" PRId64
				       " is not its index %zu", id, i);
		k->lane = lane < 0 ? UINT32_MAX : (uint32_t)lane;
		status = json_object_get(v, "status");
		if (status && !json_is_null(status)) {
			int st;

			if ((ret = rd_name(r, v, path, "status",
					   task_status_names,
					   COUNT_OF(task_status_names), &st)))
				return ret;
			if (st == TASK_PENDING) {
				char where[64];

				snprintf(where, sizeof(where), "%s.status",
					 path);
				return rd_fail(r, where,
					       "a pending task's status is "
					       "null");
			}
			k->status = (uint8_t)st;
		}
	}
	return 0;
}

static int read_segments(struct json_reader *r, const json_t *arr,
			 struct trace *t)
{
	const json_t *v;
	size_t i;
	char path[48];
	int ret;

	json_array_foreach(arr, i, v) {
		struct trace_segment *s = trace_add_segment(t);
		const json_t *note;
		int64_t task, lane;
		int state;

		snprintf(path, sizeof(path), "segments[%zu]", i);
		if (!json_is_object(v))
			return rd_fail(r, path, "expected an object");
		if ((ret = rd_int(r, v, path, "task", false, 0,
				  (int64_t)t->n_tasks - 1, &task)) ||
		    (ret = rd_int(r, v, path, "lane", false, 0,
				  (int64_t)t->n_lanes - 1, &lane)) ||
		    (ret = rd_name(r, v, path, "state", seg_state_names,
				   COUNT_OF(seg_state_names), &state)) ||
		    (ret = rd_int(r, v, path, "t0_ns", false, 0, INT64_MAX,
				  &s->t0_ns)) ||
		    (ret = rd_int(r, v, path, "t1_ns", false, s->t0_ns,
				  INT64_MAX, &s->t1_ns)))
			return ret;
		s->task = (uint32_t)task;
		s->lane = (uint32_t)lane;
		s->state = (uint8_t)state;
		note = json_object_get(v, "note");
		if (note && !json_is_null(note)) {
			if (!json_is_string(note)) {
				char where[64];

				snprintf(where, sizeof(where), "%s.note", path);
				return rd_fail(r, where, "expected a string");
			}
			s->note = trace_note(t, json_string_value(note));
		}
	}
	return 0;
}

static int read_counters(struct json_reader *r, const json_t *arr,
			 struct trace *t)
{
	const json_t *v;
	size_t i;
	char path[48];
	int ret;

	json_array_foreach(arr, i, v) {
		struct trace_sample *s = trace_add_sample(t);
		int counter;

		snprintf(path, sizeof(path), "counters[%zu]", i);
		if (!json_is_object(v))
			return rd_fail(r, path, "expected an object");
		if ((ret = rd_name(r, v, path, "name", counter_names,
				   COUNT_OF(counter_names), &counter)) ||
		    (ret = rd_int(r, v, path, "t_ns", false, INT64_MIN,
				  INT64_MAX, &s->t_ns)) ||
		    (ret = rd_int(r, v, path, "value", false, INT64_MIN,
				  INT64_MAX, &s->value)))
			return ret;
		s->counter = (uint8_t)counter;
	}
	return 0;
}

/* summary.lanes, which traces written before it lack: every lane's busy
 * time. */
static int read_lane_busy(struct json_reader *r, const json_t *v,
			  struct trace *t)
{
	size_t i;
	const json_t *item;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return rd_fail(r, "summary.lanes", "expected an array");
	for (size_t l = 0; l < t->n_lanes; l++)
		t->lanes[l].busy_ns = 0;
	json_array_foreach(v, i, item) {
		char path[48];
		int64_t lane, busy;
		int ret;

		snprintf(path, sizeof(path), "summary.lanes[%zu]", i);
		if (!json_is_object(item))
			return rd_fail(r, path, "expected an object");
		if ((ret = rd_int(r, item, path, "lane", false, 0,
				  (int64_t)t->n_lanes - 1, &lane)) ||
		    (ret = rd_int(r, item, path, "busy_ns", false, 0,
				  INT64_MAX, &busy)))
			return ret;
		t->lanes[lane].busy_ns = busy;
	}
	t->summary.has_lane_busy = true;
	return 0;
}

static int read_summary(struct json_reader *r, const json_t *v,
			struct trace *t)
{
	struct trace_summary *m = &t->summary;
	const json_t *states, *diag, *state_ns;
	const char *name;
	int ret;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return rd_fail(r, "summary", "expected an object or null");
	if ((ret = rd_int(r, v, "summary", "wall_ns", false, 0, INT64_MAX,
			  &m->wall_ns)) ||
	    (ret = rd_int(r, v, "summary", "task_time_ns", false, 0,
			  INT64_MAX, &m->task_time_ns)) ||
	    (ret = rd_real(r, v, "summary", "speedup", &m->speedup)) ||
	    (ret = rd_real(r, v, "summary", "parallelism",
			   &m->parallelism)) ||
	    (ret = rd_real(r, v, "summary", "cpu_util", &m->cpu_util)) ||
	    (ret = rd_int(r, v, "summary", "peak_inflight", false, 0,
			  INT64_MAX, &m->peak_inflight)) ||
	    (ret = rd_int(r, v, "summary", "max_loop_lag_ns", true, 0,
			  INT64_MAX, &m->max_loop_lag_ns)) ||
	    (ret = rd_object_copy(r, v, "summary", "checks", &m->checks)))
		return ret;

	states = json_object_get(v, "states");
	if (!json_is_object(states))
		return rd_fail(r, "summary.states", "expected an object");
	json_object_foreach((json_t *)states, name, state_ns) {
		char where[64];
		int s = seg_state_parse(name);

		snprintf(where, sizeof(where), "summary.states.%.30s", name);
		if (s < 0)
			return rd_fail(r, where, "unknown state");
		if (!json_is_integer(state_ns) ||
		    json_integer_value(state_ns) < 0)
			return rd_fail(r, where,
				       "expected a non-negative integer");
		m->states_ns[s] = json_integer_value(state_ns);
	}

	diag = json_object_get(v, "diagnosis");
	if (!json_is_object(diag))
		return rd_fail(r, "summary.diagnosis", "expected an object");
	if ((ret = rd_str(r, diag, "summary.diagnosis", "bound", m->bound,
			  sizeof(m->bound))) ||
	    (ret = rd_str(r, diag, "summary.diagnosis", "recommend",
			  m->recommend, sizeof(m->recommend))) ||
	    (ret = rd_str(r, diag, "summary.diagnosis", "why", m->why,
			  sizeof(m->why))))
		return ret;
	if ((ret = read_lane_busy(r, json_object_get(v, "lanes"), t)))
		return ret;
	t->has_summary = true;
	return 0;
}

static int read_array(struct json_reader *r, const json_t *root,
		      const char *key, bool optional, struct trace *t,
		      int (*read)(struct json_reader *, const json_t *,
				  struct trace *))
{
	const json_t *arr = json_object_get(root, key);

	if (!arr && optional)
		return 0;
	if (!json_is_array(arr))
		return rd_fail(r, key, "expected an array");
	return read(r, arr, t);
}

int trace_from_json(const json_t *root, struct trace *t, char *err,
		    size_t err_size)
{
	struct json_reader r = {.err = err, .err_size = err_size};
	const json_t *format, *version;
	int ret;

	if (err && err_size)
		err[0] = '\0';
	if (!json_is_object(root))
		return rd_fail(&r, "trace", "expected an object");
	format = json_object_get(root, "format");
	if (!json_is_string(format) ||
	    strcmp(json_string_value(format), "overlap-trace") != 0)
		return rd_fail(&r, "format", "expected \"overlap-trace\"");
	version = json_object_get(root, "version");
	if (!json_is_integer(version) || json_integer_value(version) != 1)
		return rd_fail(&r, "version", "expected 1");

	if ((ret = read_run(&r, json_object_get(root, "run"), t)) ||
	    (ret = read_array(&r, root, "lanes", false, t, read_lanes)) ||
	    (ret = read_array(&r, root, "tasks", false, t, read_tasks)) ||
	    (ret = read_array(&r, root, "segments", false, t,
			      read_segments)) ||
	    (ret = read_array(&r, root, "counters", true, t,
			      read_counters)) ||
	    (ret = read_summary(&r, json_object_get(root, "summary"), t)))
		return ret;
	return 0;
}
