/* Shared helpers of the C tests in tests/c/, run by tests/c_api.rs.
 *
 * - CHECK / CHECK_STATUS: assertions that print "FAIL file:line: ..." and exit(1).
 * - harness_action(): the line protocol with the Rust harness. The test prints "ACTION <verb> <args>" on
 *   stdout and reads one reply line: "DONE [value]" (the value is returned, malloc'd) or "FAIL <why>".
 *   Verbs: token <ROLE> <serverData|->, token_via_proxy <ROLE> <serverData|->, force_disconnect <connId>,
 *   close_session, signal <type> <data>, proxy_blackhole, proxy_reset, proxy_refuse, proxy_restore,
 *   proxy_wait_server_closed (until the server closed a blackholed connection).
 * - recorder: one per client session; records every callback as an event (thread-safe) and checks the
 *   threading rules on each callback (library thread named "otc-dispatch", never the test's main thread,
 *   never two callbacks of one session at once, never a callback after the release hook).
 */
#ifndef OTC_TEST_HARNESS_H
#define OTC_TEST_HARNESS_H

#include <stddef.h>

#include "otc_session.h"

#define CHECK(cond)                                                                \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      harness_fail(__FILE__, __LINE__, "check failed: %s", #cond);                 \
    }                                                                              \
  } while (0)

#define CHECK_STATUS(expr, expected)                                               \
  do {                                                                             \
    otc_status check_status_ = (expr);                                             \
    if (check_status_ != (expected)) {                                             \
      harness_fail(__FILE__, __LINE__, "%s returned %d (%s), expected %d", #expr,  \
                   (int)check_status_, otc_status_str(check_status_), (int)(expected)); \
    }                                                                              \
  } while (0)

/** Generous timeout for anything that needs the network (slow, noisy machines). */
#define WAIT_MS 20000

void harness_fail(const char *file, int line, const char *fmt, ...);
/** Starts the protocol (line-buffered stdout) and records the main thread. Call first. */
void harness_init(void);
/** Sends "ACTION <line>" and returns the reply value (malloc'd, "" when none). Fails the test on FAIL. */
char *harness_action(const char *fmt, ...);
/** The id of the session the harness created for this test (env OTC_SESSION_ID). */
const char *harness_session_id(void);
/** Prints a progress line (ignored by the harness, shown when the test fails). */
void harness_log(const char *fmt, ...);
/** Sleeps for ms milliseconds. */
void harness_sleep_ms(int ms);

enum event_kind {
  EV_CONNECTED,
  EV_DISCONNECTED,
  EV_CONNECTION_CREATED,
  EV_CONNECTION_DROPPED,
  EV_STREAM_RECEIVED,
  EV_STREAM_DROPPED,
  EV_SIGNAL,
  EV_RECONNECTING,
  EV_RECONNECTED,
  EV_ERROR,
  EV_RELEASED,
  EV_KIND_COUNT
};

/** One recorded callback. Strings are copies owned by the recorder. */
struct event {
  enum event_kind kind;
  char *connection_id; /* created/dropped: the connection; signal: the sender (NULL from the server) */
  char *text;          /* signal: type; error: message; stream dropped: reason */
  char *data;          /* signal: data; created: the connection's data */
  int reason;          /* disconnected / dropped: enum otc_disconnect_reason */
  int code;            /* error: otc_status */
};

typedef struct recorder recorder;

/** Called inside each callback after the event is recorded (e.g. to call otc_* from a callback). */
typedef void (*recorder_hook)(recorder *r, otc_session *session, const struct event *event);

recorder *recorder_new(const char *name);
/** Frees the recorder. Only after the session's release hook ran. */
void recorder_delete(recorder *r);
/** Callbacks that record into r (user_data = r), with every callback and the release hook set. */
struct otc_session_callbacks recorder_callbacks(recorder *r);
void recorder_set_hook(recorder *r, recorder_hook hook, void *hook_data);
void *recorder_hook_data(recorder *r);
/** Adds a delay inside every callback, to make overlapping callbacks detectable. */
void recorder_set_callback_delay_ms(recorder *r, int ms);
/** Waits until at least n events of kind were recorded; returns 1, or 0 after timeout_ms. */
int recorder_wait(recorder *r, enum event_kind kind, int n, int timeout_ms);
/** Waits for an event of kind whose connection_id equals id; returns 1, or 0 after timeout_ms. */
int recorder_wait_for_connection(recorder *r, enum event_kind kind, const char *id, int timeout_ms);
/** Waits for a signal with this data; returns 1, or 0 after timeout_ms. */
int recorder_wait_for_signal(recorder *r, const char *data, int timeout_ms);
int recorder_count(recorder *r, enum event_kind kind);
/** Events of kind whose connection_id equals id. */
int recorder_count_for_connection(recorder *r, enum event_kind kind, const char *id);
int recorder_total(recorder *r);
/** A copy of the i-th event (strings still owned by the recorder; valid until recorder_delete). */
struct event recorder_event(recorder *r, int i);
/** Index of the first event of kind (after index from), or -1. */
int recorder_index_of(recorder *r, enum event_kind kind, int from);
/** Number of threading-rule violations seen (0 expected), with the first one printed. */
int recorder_violations(recorder *r);
/** Fails the test unless the recorder saw no violation. */
void recorder_check_clean(recorder *r);
const char *event_kind_name(enum event_kind kind);
/** Prints every recorded event (for diagnostics). */
void recorder_dump(recorder *r);

#endif
