/* Semantic 7 of spec/c-api.md and bad input: every NULL or invalid argument gives
 * OTC_SESSION_NULL_OR_INVALID_PARAMETER (or NULL) and changes nothing; wrong-state calls give
 * ILLEGAL_STATE / NOT_CONNECTED; malformed tokens are rejected at once; library functions and the logger
 * bridge work. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clients.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int ca_file_lines = 0;

static void logger(const char *message) {
  pthread_mutex_lock(&log_lock);
  if (strstr(message, "cannot read CA file") != NULL) {
    ca_file_lines++;
  }
  pthread_mutex_unlock(&log_lock);
}

static void null_and_invalid_arguments(void) {
  struct otc_session_callbacks cb = OTC_SESSION_CALLBACKS_INIT;
  struct otc_session_callbacks too_small = OTC_SESSION_CALLBACKS_INIT;
  otc_session_settings *settings = otc_session_settings_new();
  otc_session_state state;
  otc_roster *roster = (otc_roster *)&state; /* must stay untouched */
  const char pem[] = "not a certificate";

  CHECK(settings != NULL);
  CHECK(otc_session_new(NULL, NULL, &cb) == NULL);
  CHECK(otc_session_new(NULL, "", &cb) == NULL);
  CHECK(otc_session_new(NULL, "ses_x", NULL) == NULL);
  CHECK(otc_session_new(NULL, "ses_\xff", &cb) == NULL);
  CHECK(otc_session_new("\xff", "ses_x", &cb) == NULL);
  too_small.size = 0;
  CHECK(otc_session_new(NULL, "ses_x", &too_small) == NULL);
  CHECK(otc_session_new_with_settings(NULL, "ses_x", &cb, NULL) == NULL);

  CHECK_STATUS(otc_session_connect(NULL, "ws://x"), OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK_STATUS(otc_session_disconnect(NULL), OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK_STATUS(otc_session_get_state(NULL, &state), OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK_STATUS(otc_session_get_roster(NULL, &roster), OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK(roster == (otc_roster *)&state);
  CHECK(otc_session_get_id(NULL) == NULL);
  CHECK(otc_session_get_connection(NULL) == NULL);
  CHECK(otc_session_get_user_data(NULL) == NULL);
  CHECK_STATUS(otc_session_force_disconnect(NULL, NULL), OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK_STATUS(otc_session_force_unpublish(NULL, NULL), OTC_SESSION_NULL_OR_INVALID_PARAMETER);

  CHECK(otc_connection_get_id(NULL) == NULL);
  CHECK(otc_connection_get_data(NULL) == NULL);
  CHECK(otc_connection_get_client_data(NULL) == NULL);
  CHECK(otc_connection_get_server_data(NULL) == NULL);
  CHECK(otc_connection_get_session_id(NULL) == NULL);
  CHECK(otc_connection_get_creation_time(NULL) == 0);
  CHECK(otc_connection_copy(NULL) == NULL);
  CHECK(otc_stream_get_id(NULL) == NULL);
  CHECK(otc_stream_get_connection(NULL) == NULL);
  CHECK(otc_stream_get_video_type(NULL) == NULL);
  CHECK(otc_stream_has_audio(NULL) == OTC_FALSE);
  CHECK(otc_stream_has_video(NULL) == OTC_FALSE);
  CHECK(otc_stream_get_creation_time(NULL) == 0);
  CHECK(otc_stream_copy(NULL) == NULL);
  CHECK(otc_roster_get_count(NULL) == 0);
  CHECK(otc_roster_get_connection(NULL, 0) == NULL);

  CHECK_STATUS(otc_session_settings_set_connect_timeout(NULL, 1000), OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK_STATUS(otc_session_settings_set_connect_timeout(settings, 0), OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK_STATUS(otc_session_settings_set_connect_timeout(settings, 5000), OTC_SUCCESS);
  CHECK_STATUS(otc_session_settings_set_ping_interval(settings, 0), OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK_STATUS(otc_session_settings_set_ping_interval(settings, 1000), OTC_SUCCESS);
  CHECK_STATUS(otc_session_settings_set_ping_timeout(settings, 0), OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK_STATUS(otc_session_settings_set_ping_timeout(settings, 1000), OTC_SUCCESS);
  CHECK_STATUS(otc_session_settings_set_request_timeout(settings, 0), OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK_STATUS(otc_session_settings_set_reconnection_window(NULL, 0), OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK_STATUS(otc_session_settings_set_reconnection_window(settings, 0), OTC_SUCCESS);
  CHECK_STATUS(otc_session_settings_set_client_data(settings, NULL), OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK_STATUS(otc_session_settings_set_client_data(settings, "caf\xc3"), OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK_STATUS(otc_session_settings_set_client_data(settings, "caf\xc3\xa9"), OTC_SUCCESS);
  CHECK_STATUS(otc_session_settings_set_connection_events_suppressed(NULL, OTC_TRUE),
               OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK_STATUS(otc_session_settings_add_ca_pem(settings, NULL, 10), OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK_STATUS(otc_session_settings_add_ca_pem(settings, (const uint8_t *)pem, sizeof pem - 1),
               OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK_STATUS(otc_session_settings_add_ca_file(settings, NULL), OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK_STATUS(otc_session_settings_add_ca_file(settings, "/nonexistent/ca.pem"),
               OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  otc_session_settings_delete(settings);
}

/* otc_session_create says why it fails, leaves the output untouched then, and never calls on_release for a
 * session it did not create. */
static void create_reports_its_status(void) {
  recorder *r = recorder_new("created");
  struct otc_session_callbacks cb = recorder_callbacks(r);
  otc_session *untouched = (otc_session *)&cb;
  otc_session *s = untouched;
  CHECK_STATUS(otc_session_create(harness_session_id(), &cb, NULL, NULL), OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK_STATUS(otc_session_create(NULL, &cb, NULL, &s), OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK_STATUS(otc_session_create(harness_session_id(), NULL, NULL, &s), OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK_STATUS(otc_session_create("", &cb, NULL, &s), OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK(s == untouched);
  CHECK(recorder_total(r) == 0); /* no release hook for what was never created */
  CHECK_STATUS(otc_session_create(harness_session_id(), &cb, NULL, &s), OTC_SUCCESS);
  CHECK(s != untouched && s != NULL);
  CHECK(strcmp(otc_session_get_id(s), harness_session_id()) == 0);
  otc_session_delete(s);
  CHECK(recorder_total(r) == 1 && recorder_count(r, EV_RELEASED) == 1);
  recorder_check_clean(r);
  recorder_delete(r);
}

/* A callbacks struct from an "older header" that ends before on_signal_received: the fields beyond its
 * size (on_signal_received and on_error, set to a trap) are never read, the ones inside are. */
static pthread_mutex_t old_lock = PTHREAD_MUTEX_INITIALIZER;
static int old_connected, old_created, old_released, old_beyond_size;

static void old_bump(int *counter) {
  pthread_mutex_lock(&old_lock);
  (*counter)++;
  pthread_mutex_unlock(&old_lock);
}

static void old_on_connected(otc_session *s, void *u) {
  (void)s;
  (void)u;
  old_bump(&old_connected);
}

static void old_on_created(otc_session *s, void *u, const otc_connection *c) {
  (void)s;
  (void)u;
  (void)c;
  old_bump(&old_created);
}

static void old_on_release(void *u) {
  (void)u;
  old_bump(&old_released);
}

static void old_trap_signal(otc_session *s, void *u, const char *type, const char *data, const otc_connection *from) {
  (void)s;
  (void)u;
  (void)type;
  (void)data;
  (void)from;
  old_bump(&old_beyond_size);
}

static void old_trap_error(otc_session *s, void *u, const char *message, otc_status code) {
  (void)s;
  (void)u;
  (void)message;
  (void)code;
  old_bump(&old_beyond_size);
}

static int old_count(const int *counter) {
  int n;
  pthread_mutex_lock(&old_lock);
  n = *counter;
  pthread_mutex_unlock(&old_lock);
  return n;
}

static void wait_count(const int *counter, int n) {
  int waited = 0;
  while (old_count(counter) < n && waited < WAIT_MS) {
    harness_sleep_ms(10);
    waited += 10;
  }
  CHECK(old_count(counter) >= n);
}

static void older_callbacks_struct_is_read_up_to_its_size(void) {
  struct otc_session_callbacks cb = OTC_SESSION_CALLBACKS_INIT;
  struct client observer, late;
  otc_session *s;
  char *token;
  client_join(&observer, "observer", "token", "PUBLISHER", NULL);

  token = harness_action("token PUBLISHER -");
  cb.size = offsetof(struct otc_session_callbacks, on_signal_received);
  cb.on_connected = old_on_connected;
  cb.on_connection_created = old_on_created;
  cb.on_release = old_on_release;
  cb.on_signal_received = old_trap_signal; /* beyond the declared size */
  cb.on_error = old_trap_error;            /* beyond the declared size */
  s = otc_session_new(NULL, harness_session_id(), &cb);
  CHECK(s != NULL);
  CHECK_STATUS(otc_session_connect(s, token), OTC_SUCCESS);
  free(token);
  wait_count(&old_connected, 1);
  wait_count(&old_created, 1); /* the observer */

  /* A signal to everyone: once the observer has it, the old-struct session's copy was sent before
   * anything that follows, so it precedes the next join in that session's event order. */
  CHECK_STATUS(otc_session_send_signal(s, "chat", "old-struct"), OTC_SUCCESS);
  CHECK(recorder_wait_for_signal(observer.rec, "old-struct", WAIT_MS));
  client_join(&late, "late", "token", "PUBLISHER", NULL);
  wait_count(&old_created, 2); /* in range: delivered */

  otc_session_delete(s);
  CHECK(old_count(&old_released) == 1);
  CHECK(old_count(&old_beyond_size) == 0); /* the signal event came, its callback was not read */
  client_leave(&late);
  client_free(&late);
  client_leave(&observer);
  client_free(&observer);
}

static void wrong_state_and_malformed_tokens(void) {
  recorder *r = recorder_new("states");
  struct otc_session_callbacks cb = recorder_callbacks(r);
  otc_session *s = otc_session_new(NULL, harness_session_id(), &cb);
  otc_session_state state = OTC_SESSION_STATE_DISCONNECTED;
  char *token;
  CHECK(s != NULL);
  CHECK(otc_session_get_user_data(s) == r);
  CHECK_STATUS(otc_session_get_state(s, &state), OTC_SUCCESS);
  CHECK(state == OTC_SESSION_STATE_IDLE);
  CHECK_STATUS(otc_session_get_state(s, NULL), OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK(otc_session_get_connection(s) == NULL);

  /* Not connected yet. */
  CHECK_STATUS(otc_session_disconnect(s), OTC_SESSION_NOT_CONNECTED);
  CHECK_STATUS(otc_session_send_signal(s, "chat", "x"), OTC_SESSION_NOT_CONNECTED);

  /* Malformed tokens: rejected at once, nothing starts. */
  CHECK_STATUS(otc_session_connect(s, NULL), OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK_STATUS(otc_session_connect(s, ""), OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK_STATUS(otc_session_connect(s, "not a token"), OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK_STATUS(otc_session_connect(s, "http://127.0.0.1:1?sessionId=a&token=b"), OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK_STATUS(otc_session_connect(s, "ws://\xff\xfe?token=x"), OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK_STATUS(otc_session_get_state(s, &state), OTC_SUCCESS);
  CHECK(state == OTC_SESSION_STATE_IDLE);

  /* Connect twice: the second is refused, the first goes on. */
  token = harness_action("token PUBLISHER -");
  CHECK_STATUS(otc_session_connect(s, token), OTC_SUCCESS);
  CHECK_STATUS(otc_session_connect(s, token), OTC_SESSION_ILLEGAL_STATE);
  CHECK(recorder_wait(r, EV_CONNECTED, 1, WAIT_MS));
  CHECK_STATUS(otc_session_connect(s, token), OTC_SESSION_ILLEGAL_STATE);
  CHECK_STATUS(otc_session_get_state(s, &state), OTC_SUCCESS);
  CHECK(state == OTC_SESSION_STATE_CONNECTED);
  free(token);
  CHECK_STATUS(otc_session_disconnect(s), OTC_SUCCESS);
  CHECK(recorder_wait(r, EV_DISCONNECTED, 1, WAIT_MS));
  CHECK_STATUS(otc_session_disconnect(s), OTC_SESSION_NOT_CONNECTED);
  CHECK_STATUS(otc_session_get_state(s, &state), OTC_SUCCESS);
  CHECK(state == OTC_SESSION_STATE_DISCONNECTED);
  CHECK(recorder_count(r, EV_ERROR) == 0);
  otc_session_delete(s);
  recorder_check_clean(r);
  recorder_delete(r);
}

/* A token for another session than the one the object was created for: an inconsistent argument,
 * refused at once; nothing starts. */
static void token_for_another_session_is_refused(void) {
  recorder *r = recorder_new("wrong-session");
  struct otc_session_callbacks cb = recorder_callbacks(r);
  otc_session *s = otc_session_new(NULL, "ses_SomeOtherOne", &cb);
  char *token = harness_action("token PUBLISHER -");
  otc_session_state state = OTC_SESSION_STATE_CONNECTED;
  CHECK(s != NULL);
  CHECK_STATUS(otc_session_connect(s, token), OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK_STATUS(otc_session_get_state(s, &state), OTC_SUCCESS);
  CHECK(state == OTC_SESSION_STATE_IDLE);
  free(token);
  otc_session_delete(s);
  CHECK(recorder_total(r) == 1 && recorder_count(r, EV_RELEASED) == 1);
  recorder_check_clean(r);
  recorder_delete(r);
}

int main(void) {
  const char *version;
  harness_init();

  /* Library functions; init/destroy are optional and harmless. */
  CHECK_STATUS(otc_init(NULL), OTC_SUCCESS);
  version = otc_version();
  CHECK(version != NULL && strchr(version, '.') != NULL);
  CHECK(strcmp(otc_status_str(OTC_SUCCESS), "success") == 0);
  CHECK(otc_status_str(OTC_SESSION_NULL_OR_INVALID_PARAMETER) != NULL);
  CHECK(strcmp(otc_status_str(-12345), "unknown status") == 0);

  /* The logger bridge: a warning of the library reaches the C logger. */
  otc_log_set_logger_callback(logger);
  otc_log_enable(OTC_LOG_LEVEL_WARN);
  null_and_invalid_arguments();
  pthread_mutex_lock(&log_lock);
  CHECK(ca_file_lines == 1);
  pthread_mutex_unlock(&log_lock);
  otc_log_enable(OTC_LOG_LEVEL_DISABLED);
  otc_log_set_logger_callback(NULL);

  create_reports_its_status();
  older_callbacks_struct_is_read_up_to_its_size();
  wrong_state_and_malformed_tokens();
  token_for_another_session_is_refused();

  CHECK_STATUS(otc_destroy(), OTC_SUCCESS);
  printf("PASS\n");
  return 0;
}
