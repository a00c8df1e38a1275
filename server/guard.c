/*
 * guard: deadlines and caps for slow and stuck clients (see guard.h).
 *
 * One record per connection, made at MHD's STARTED notification (in the
 * daemon's accepting thread, before the connection's own thread exists)
 * and unlinked at CLOSED.  A viewer holds a reference on its connection's
 * record, since MHD may free a response after the CLOSED notification.
 * The watchdog thread wakes every tick and walks the list: a few hundred
 * records at most, so a walk costs microseconds.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "guard.h"

struct guard_conn {
	struct guard *g;
	_Atomic long refs;
	_Atomic int64_t sending_since_ns; /* the viewer's clock, see guard.h */

	/* protected by g->lock */
	struct guard_conn *prev, *next;
	int fd; /* -1 once closed */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	int64_t request_since_ns; /* 0: no request being received */
	bool viewer;
	bool cut; /* shut down by the watchdog */
};

struct guard {
	struct guard_config cfg;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool stop;		 /* protected by lock */
	struct guard_conn *head; /* protected by lock */
	long viewers;		 /* protected by lock */
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void conn_unref(struct guard_conn *c)
{
	if (c && atomic_fetch_sub(&c->refs, 1) == 1)
		free(c);
}

static bool same_address(const struct guard_conn *a, const struct guard_conn *b)
{
	const struct sockaddr *x = (const struct sockaddr *)&a->addr;
	const struct sockaddr *y = (const struct sockaddr *)&b->addr;

	if (x->sa_family != y->sa_family)
		return false;
	if (x->sa_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)x)->sin_addr,
			      &((const struct sockaddr_in *)y)->sin_addr,
			      sizeof(struct in_addr)) == 0;
	if (x->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)x)->sin6_addr,
			      &((const struct sockaddr_in6 *)y)->sin6_addr,
			      sizeof(struct in6_addr)) == 0;
	return false;
}

/* Called with the lock held.  A reset rather than an orderly close: a
 * client that does not read would otherwise keep the kernel holding
 * what was queued for it. */
static void cut(struct guard_conn *c)
{
	struct linger reset = {.l_onoff = 1, .l_linger = 0};

	if (c->fd < 0 || c->cut)
		return;
	c->cut = true;
	(void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
	(void)shutdown(c->fd, SHUT_RDWR);
}

static void *watchdog(void *arg)
{
	struct guard *g = arg;
	struct timespec until;

	pthread_mutex_lock(&g->lock);
	while (!g->stop) {
		int64_t now = mono_ns(), next = now + g->cfg.tick_ns;

		for (struct guard_conn *c = g->head; c; c = c->next) {
			int64_t since = atomic_load(&c->sending_since_ns);

			if (c->request_since_ns &&
			    now - c->request_since_ns >
				    g->cfg.request_deadline_ns)
				cut(c);
			else if (c->viewer && since &&
				 now - since > g->cfg.stuck_viewer_ns)
				cut(c);
		}
		until.tv_sec = (time_t)(next / 1000000000LL);
		until.tv_nsec = (long)(next % 1000000000LL);
		pthread_cond_timedwait(&g->wake, &g->lock, &until);
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

struct guard *guard_create(const struct guard_config *cfg)
{
	struct guard *g = calloc(1, sizeof(*g));
	pthread_condattr_t ca;

	if (!g)
		return NULL;
	g->cfg = *cfg;
	pthread_mutex_init(&g->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&g->thread, NULL, watchdog, g) != 0) {
		pthread_cond_destroy(&g->wake);
		pthread_mutex_destroy(&g->lock);
		free(g);
		return NULL;
	}
	return g;
}

void guard_destroy(struct guard *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->stop = true;
	pthread_cond_signal(&g->wake);
	pthread_mutex_unlock(&g->lock);
	pthread_join(g->thread, NULL);
	/* MHD_stop_daemon closed every connection: the list is empty. */
	pthread_cond_destroy(&g->wake);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

void guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
		  enum MHD_ConnectionNotificationCode code)
{
	struct guard *g = cls;
	struct guard_conn *c = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *fd = MHD_get_connection_info(
			conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		const union MHD_ConnectionInfo *addr = MHD_get_connection_info(
			conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

		c = calloc(1, sizeof(*c));
		if (!c)
			return; /* unguarded, as before there was a guard */
		c->g = g;
		atomic_init(&c->refs, 1);
		atomic_init(&c->sending_since_ns, 0);
		c->fd = fd ? fd->connect_fd : -1;
		if (addr && addr->client_addr) {
			c->addr_len = addr->client_addr->sa_family == AF_INET6
					      ? sizeof(struct sockaddr_in6)
					      : sizeof(struct sockaddr_in);
			memcpy(&c->addr, addr->client_addr, c->addr_len);
		}
		c->request_since_ns = mono_ns();
		pthread_mutex_lock(&g->lock);
		c->next = g->head;
		if (g->head)
			g->head->prev = c;
		g->head = c;
		pthread_mutex_unlock(&g->lock);
		*socket_context = c;
		return;
	}
	if (code != MHD_CONNECTION_NOTIFY_CLOSED || !c)
		return;
	pthread_mutex_lock(&g->lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		g->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	c->fd = -1;
	pthread_mutex_unlock(&g->lock);
	*socket_context = NULL;
	conn_unref(c);
}

struct guard_conn *guard_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(
		conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return info ? info->socket_context : NULL;
}

void guard_request_received(struct guard_conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->g->lock);
	c->request_since_ns = 0;
	pthread_mutex_unlock(&c->g->lock);
}

void guard_request_done(struct guard_conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->g->lock);
	if (c->fd >= 0)
		c->request_since_ns = mono_ns();
	pthread_mutex_unlock(&c->g->lock);
}

int guard_viewer_begin(struct guard_conn *c)
{
	struct guard *g;
	long same = 0;
	int rc = 0;

	if (!c)
		return 0;
	g = c->g;
	pthread_mutex_lock(&g->lock);
	if (g->viewers >= g->cfg.viewers_max) {
		rc = -EMFILE;
		goto out_unlock;
	}
	for (struct guard_conn *o = g->head; o; o = o->next)
		if (o->viewer && same_address(o, c))
			same++;
	if (same >= g->cfg.viewers_per_address) {
		rc = -EUSERS;
		goto out_unlock;
	}
	c->viewer = true;
	g->viewers++;
	atomic_store(&c->sending_since_ns, 0);
	atomic_fetch_add(&c->refs, 1);
out_unlock:
	pthread_mutex_unlock(&g->lock);
	return rc;
}

void guard_viewer_end(void *arg)
{
	struct guard_conn *c = arg;

	if (!c)
		return;
	pthread_mutex_lock(&c->g->lock);
	c->viewer = false;
	c->g->viewers--;
	atomic_store(&c->sending_since_ns, 0);
	pthread_mutex_unlock(&c->g->lock);
	conn_unref(c);
}

_Atomic int64_t *guard_viewer_clock(struct guard_conn *c)
{
	return c ? &c->sending_since_ns : NULL;
}

long guard_viewers_max(const struct guard *g)
{
	return g->cfg.viewers_max;
}

long guard_viewers_per_address(const struct guard *g)
{
	return g->cfg.viewers_per_address;
}
