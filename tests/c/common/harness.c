/* Implementation of harness.h (see there). */
#define _GNU_SOURCE
#include "harness.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_t main_thread;

void harness_fail(const char *file, int line, const char *fmt, ...) {
  va_list args;
  fprintf(stdout, "FAIL %s:%d: ", file, line);
  va_start(args, fmt);
  vfprintf(stdout, fmt, args);
  va_end(args);
  fprintf(stdout, "\n");
  fflush(stdout);
  exit(1);
}

void harness_init(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  main_thread = pthread_self();
}

void harness_log(const char *fmt, ...) {
  va_list args;
  fprintf(stdout, "# ");
  va_start(args, fmt);
  vfprintf(stdout, fmt, args);
  va_end(args);
  fprintf(stdout, "\n");
}

void harness_sleep_ms(int ms) {
  struct timespec t;
  t.tv_sec = ms / 1000;
  t.tv_nsec = (long)(ms % 1000) * 1000000L;
  nanosleep(&t, NULL);
}

const char *harness_session_id(void) {
  const char *id = getenv("OTC_SESSION_ID");
  if (id == NULL) {
    harness_fail(__FILE__, __LINE__, "OTC_SESSION_ID is not set (run through tests/c_api.rs)");
  }
  return id;
}

char *harness_action(const char *fmt, ...) {
  char line[4096];
  va_list args;
  size_t len;
  fprintf(stdout, "ACTION ");
  va_start(args, fmt);
  vfprintf(stdout, fmt, args);
  va_end(args);
  fprintf(stdout, "\n");
  fflush(stdout);
  if (fgets(line, sizeof line, stdin) == NULL) {
    harness_fail(__FILE__, __LINE__, "no reply from the harness");
  }
  len = strlen(line);
  while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
    line[--len] = '\0';
  }
  if (strncmp(line, "DONE", 4) != 0) {
    harness_fail(__FILE__, __LINE__, "harness refused the action: %s", line);
  }
  return strdup(line[4] == ' ' ? line + 5 : "");
}

/* ---- recorder ---- */

struct recorder {
  char name[32];
  pthread_mutex_t lock;
  pthread_cond_t changed;
  struct event *events;
  int count;
  int capacity;
  int in_callback;
  int released;
  int violations;
  int callback_delay_ms;
  recorder_hook hook;
  void *hook_data;
};

static char *copy_or_null(const char *s) { return s == NULL ? NULL : strdup(s); }

recorder *recorder_new(const char *name) {
  recorder *r = calloc(1, sizeof *r);
  CHECK(r != NULL);
  snprintf(r->name, sizeof r->name, "%s", name);
  pthread_mutex_init(&r->lock, NULL);
  pthread_cond_init(&r->changed, NULL);
  return r;
}

void recorder_delete(recorder *r) {
  int i;
  if (r == NULL) {
    return;
  }
  for (i = 0; i < r->count; i++) {
    free(r->events[i].connection_id);
    free(r->events[i].text);
    free(r->events[i].data);
  }
  free(r->events);
  pthread_mutex_destroy(&r->lock);
  pthread_cond_destroy(&r->changed);
  free(r);
}

void recorder_set_hook(recorder *r, recorder_hook hook, void *hook_data) {
  pthread_mutex_lock(&r->lock);
  r->hook = hook;
  r->hook_data = hook_data;
  pthread_mutex_unlock(&r->lock);
}

void *recorder_hook_data(recorder *r) { return r->hook_data; }

void recorder_set_callback_delay_ms(recorder *r, int ms) {
  pthread_mutex_lock(&r->lock);
  r->callback_delay_ms = ms;
  pthread_mutex_unlock(&r->lock);
}

static void violation(recorder *r, const char *what) {
  /* Called with r->lock held. */
  if (r->violations == 0) {
    fprintf(stdout, "# VIOLATION [%s]: %s\n", r->name, what);
  }
  r->violations++;
}

/* Records an event and runs the threading checks; the strings are copied. */
static void record(recorder *r, otc_session *session, struct event e) {
  char thread_name[32] = "";
  int delay;
  recorder_hook hook;
  struct event copy;
  pthread_getname_np(pthread_self(), thread_name, sizeof thread_name);

  pthread_mutex_lock(&r->lock);
  if (pthread_equal(pthread_self(), main_thread)) {
    violation(r, "callback ran on the test's main thread (inside an otc_* call?)");
  }
  if (strcmp(thread_name, "otc-dispatch") != 0) {
    violation(r, "callback ran on a thread not named otc-dispatch");
  }
  if (r->released && e.kind != EV_RELEASED) {
    violation(r, "callback after the release hook");
  }
  if (e.kind == EV_RELEASED) {
    if (r->released) {
      violation(r, "release hook called twice");
    }
    r->released = 1;
  }
  if (r->in_callback) {
    violation(r, "two callbacks of one session at once");
  }
  r->in_callback = 1;
  if (r->count == r->capacity) {
    r->capacity = r->capacity == 0 ? 64 : r->capacity * 2;
    r->events = realloc(r->events, (size_t)r->capacity * sizeof *r->events);
    CHECK(r->events != NULL);
  }
  e.connection_id = copy_or_null(e.connection_id);
  e.text = copy_or_null(e.text);
  e.data = copy_or_null(e.data);
  r->events[r->count++] = e;
  copy = e;
  delay = r->callback_delay_ms;
  hook = r->hook;
  pthread_cond_broadcast(&r->changed);
  pthread_mutex_unlock(&r->lock);

  if (delay > 0) {
    harness_sleep_ms(delay);
  }
  if (hook != NULL && e.kind != EV_RELEASED) {
    hook(r, session, &copy);
  }

  pthread_mutex_lock(&r->lock);
  r->in_callback = 0;
  pthread_mutex_unlock(&r->lock);
}

static struct event blank(enum event_kind kind) {
  struct event e;
  memset(&e, 0, sizeof e);
  e.kind = kind;
  return e;
}

static void on_connected(otc_session *session, void *user_data) {
  record(user_data, session, blank(EV_CONNECTED));
}

static void on_disconnected(otc_session *session, void *user_data, enum otc_disconnect_reason reason) {
  struct event e = blank(EV_DISCONNECTED);
  e.reason = (int)reason;
  record(user_data, session, e);
}

static void on_connection_created(otc_session *session, void *user_data, const otc_connection *connection) {
  struct event e = blank(EV_CONNECTION_CREATED);
  e.connection_id = (char *)otc_connection_get_id(connection);
  e.data = (char *)otc_connection_get_data(connection);
  record(user_data, session, e);
}

static void on_connection_dropped(otc_session *session, void *user_data, const otc_connection *connection,
                                  enum otc_disconnect_reason reason) {
  struct event e = blank(EV_CONNECTION_DROPPED);
  e.connection_id = (char *)otc_connection_get_id(connection);
  e.reason = (int)reason;
  record(user_data, session, e);
}

static void on_stream_received(otc_session *session, void *user_data, const otc_stream *stream) {
  struct event e = blank(EV_STREAM_RECEIVED);
  e.text = (char *)otc_stream_get_id(stream);
  record(user_data, session, e);
}

static void on_stream_dropped(otc_session *session, void *user_data, const otc_stream *stream, const char *reason) {
  struct event e = blank(EV_STREAM_DROPPED);
  e.text = (char *)reason;
  e.data = (char *)otc_stream_get_id(stream);
  record(user_data, session, e);
}

static void on_signal_received(otc_session *session, void *user_data, const char *type, const char *data,
                               const otc_connection *from) {
  struct event e = blank(EV_SIGNAL);
  e.text = (char *)type;
  e.data = (char *)data;
  e.connection_id = from == NULL ? NULL : (char *)otc_connection_get_id(from);
  record(user_data, session, e);
}

static void on_reconnection_started(otc_session *session, void *user_data) {
  record(user_data, session, blank(EV_RECONNECTING));
}

static void on_reconnected(otc_session *session, void *user_data) {
  record(user_data, session, blank(EV_RECONNECTED));
}

static void on_error(otc_session *session, void *user_data, const char *error_string, otc_status code) {
  struct event e = blank(EV_ERROR);
  e.text = (char *)error_string;
  e.code = code;
  record(user_data, session, e);
}

static void on_release(void *user_data) {
  recorder *r = user_data;
  struct event e = blank(EV_RELEASED);
  /* The release hook may run on the deleting thread: only the "after everything" rule applies. */
  pthread_mutex_lock(&r->lock);
  if (r->in_callback) {
    violation(r, "release hook while a callback runs");
  }
  if (r->released) {
    violation(r, "release hook called twice");
  }
  r->released = 1;
  if (r->count == r->capacity) {
    r->capacity = r->capacity == 0 ? 64 : r->capacity * 2;
    r->events = realloc(r->events, (size_t)r->capacity * sizeof *r->events);
    CHECK(r->events != NULL);
  }
  r->events[r->count++] = e;
  pthread_cond_broadcast(&r->changed);
  pthread_mutex_unlock(&r->lock);
}

struct otc_session_callbacks recorder_callbacks(recorder *r) {
  struct otc_session_callbacks cb = OTC_SESSION_CALLBACKS_INIT;
  cb.user_data = r;
  cb.on_release = on_release;
  cb.on_connected = on_connected;
  cb.on_disconnected = on_disconnected;
  cb.on_connection_created = on_connection_created;
  cb.on_connection_dropped = on_connection_dropped;
  cb.on_stream_received = on_stream_received;
  cb.on_stream_dropped = on_stream_dropped;
  cb.on_signal_received = on_signal_received;
  cb.on_reconnection_started = on_reconnection_started;
  cb.on_reconnected = on_reconnected;
  cb.on_error = on_error;
  return cb;
}

static void deadline_after(struct timespec *deadline, int timeout_ms) {
  clock_gettime(CLOCK_REALTIME, deadline);
  deadline->tv_sec += timeout_ms / 1000;
  deadline->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (deadline->tv_nsec >= 1000000000L) {
    deadline->tv_sec += 1;
    deadline->tv_nsec -= 1000000000L;
  }
}

static int count_locked(recorder *r, enum event_kind kind, const char *id, const char *data) {
  int i, n = 0;
  for (i = 0; i < r->count; i++) {
    const struct event *e = &r->events[i];
    if (e->kind != kind) {
      continue;
    }
    if (id != NULL && (e->connection_id == NULL || strcmp(e->connection_id, id) != 0)) {
      continue;
    }
    if (data != NULL && (e->data == NULL || strcmp(e->data, data) != 0)) {
      continue;
    }
    n++;
  }
  return n;
}

static int wait_until(recorder *r, enum event_kind kind, const char *id, const char *data, int n, int timeout_ms) {
  struct timespec deadline;
  int ok;
  deadline_after(&deadline, timeout_ms);
  pthread_mutex_lock(&r->lock);
  while (count_locked(r, kind, id, data) < n) {
    if (pthread_cond_timedwait(&r->changed, &r->lock, &deadline) != 0) {
      break;
    }
  }
  ok = count_locked(r, kind, id, data) >= n;
  pthread_mutex_unlock(&r->lock);
  if (!ok) {
    harness_log("[%s] timed out waiting for %s (connection %s, data %s)", r->name, event_kind_name(kind),
                id ? id : "any", data ? data : "any");
    recorder_dump(r);
  }
  return ok;
}

int recorder_wait(recorder *r, enum event_kind kind, int n, int timeout_ms) {
  return wait_until(r, kind, NULL, NULL, n, timeout_ms);
}

int recorder_wait_for_connection(recorder *r, enum event_kind kind, const char *id, int timeout_ms) {
  return wait_until(r, kind, id, NULL, 1, timeout_ms);
}

int recorder_wait_for_signal(recorder *r, const char *data, int timeout_ms) {
  return wait_until(r, EV_SIGNAL, NULL, data, 1, timeout_ms);
}

int recorder_count(recorder *r, enum event_kind kind) {
  int n;
  pthread_mutex_lock(&r->lock);
  n = count_locked(r, kind, NULL, NULL);
  pthread_mutex_unlock(&r->lock);
  return n;
}

int recorder_count_for_connection(recorder *r, enum event_kind kind, const char *id) {
  int n;
  pthread_mutex_lock(&r->lock);
  n = count_locked(r, kind, id, NULL);
  pthread_mutex_unlock(&r->lock);
  return n;
}

int recorder_total(recorder *r) {
  int n;
  pthread_mutex_lock(&r->lock);
  n = r->count;
  pthread_mutex_unlock(&r->lock);
  return n;
}

struct event recorder_event(recorder *r, int i) {
  struct event e;
  pthread_mutex_lock(&r->lock);
  CHECK(i >= 0 && i < r->count);
  e = r->events[i];
  pthread_mutex_unlock(&r->lock);
  return e;
}

int recorder_index_of(recorder *r, enum event_kind kind, int from) {
  int i, found = -1;
  pthread_mutex_lock(&r->lock);
  for (i = from < 0 ? 0 : from; i < r->count; i++) {
    if (r->events[i].kind == kind) {
      found = i;
      break;
    }
  }
  pthread_mutex_unlock(&r->lock);
  return found;
}

int recorder_violations(recorder *r) {
  int n;
  pthread_mutex_lock(&r->lock);
  n = r->violations;
  pthread_mutex_unlock(&r->lock);
  return n;
}

void recorder_check_clean(recorder *r) {
  if (recorder_violations(r) != 0) {
    recorder_dump(r);
    harness_fail(__FILE__, __LINE__, "[%s] %d threading/lifetime violation(s)", r->name, recorder_violations(r));
  }
}

const char *event_kind_name(enum event_kind kind) {
  static const char *const names[EV_KIND_COUNT] = {
      "connected",       "disconnected", "connection_created", "connection_dropped",
      "stream_received", "stream_dropped", "signal",            "reconnecting",
      "reconnected",     "error",          "released"};
  return (int)kind >= 0 && kind < EV_KIND_COUNT ? names[kind] : "?";
}

void recorder_dump(recorder *r) {
  int i;
  pthread_mutex_lock(&r->lock);
  for (i = 0; i < r->count; i++) {
    const struct event *e = &r->events[i];
    fprintf(stdout, "#   [%s] %d %s conn=%s text=%s reason=%d code=%d\n", r->name, i, event_kind_name(e->kind),
            e->connection_id ? e->connection_id : "-", e->text ? e->text : "-", e->reason, e->code);
  }
  pthread_mutex_unlock(&r->lock);
}
