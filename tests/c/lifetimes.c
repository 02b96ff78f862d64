/* Semantic 6 of spec/c-api.md: borrowed callback arguments can be kept with _copy; getter strings live as
 * long as their object; otc_session_delete works from any thread at any time (while events flow, while
 * connecting, from inside a callback) and, when it returns, no callback runs any more and the release hook
 * ran exactly once; *_delete(NULL) is a no-op. Also: disconnect while connecting gives on_error and no
 * on_disconnected. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clients.h"

/* A copy of the first connection created, taken inside on_connection_created. */
static otc_connection *kept = NULL;
static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t kept_set = PTHREAD_COND_INITIALIZER;

static void on_created_keep(otc_session *session, void *user_data, const otc_connection *connection) {
  (void)session;
  (void)user_data;
  pthread_mutex_lock(&kept_lock);
  if (kept == NULL) {
    kept = otc_connection_copy(connection);
    pthread_cond_broadcast(&kept_set);
  }
  pthread_mutex_unlock(&kept_lock);
}

/* Waits (up to WAIT_MS) for on_created_keep to have run. */
static otc_connection *wait_for_kept(void) {
  struct timespec deadline;
  otc_connection *result;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += WAIT_MS / 1000;
  pthread_mutex_lock(&kept_lock);
  while (kept == NULL && pthread_cond_timedwait(&kept_set, &kept_lock, &deadline) == 0) {
  }
  result = kept;
  pthread_mutex_unlock(&kept_lock);
  return result;
}

static void delete_on_connected(recorder *r, otc_session *session, const struct event *e) {
  (void)r;
  if (e->kind == EV_CONNECTED) {
    otc_session_delete(session);
  }
}

struct deleter {
  otc_session *session;
  recorder *rec;
  int released_when_returned;
  int events_when_returned;
};

static void *delete_from_thread(void *arg) {
  struct deleter *d = arg;
  /* Let a few of the queued events through first. */
  CHECK(recorder_wait(d->rec, EV_SIGNAL, 5, WAIT_MS));
  otc_session_delete(d->session);
  d->released_when_returned = recorder_count(d->rec, EV_RELEASED);
  d->events_when_returned = recorder_total(d->rec);
  return NULL;
}

int main(void) {
  struct client bob;
  recorder *r;
  struct otc_session_callbacks cb;
  otc_session *s;
  const char *id1, *id2;
  const otc_connection *own;
  const char *own_id;
  char *token;
  int i;
  harness_init();

  client_join(&bob, "bob", "token", "PUBLISHER", NULL);

  /* A connection copied inside a callback outlives the callback, its session and the client's departure. */
  {
    struct client alice;
    otc_roster *roster = NULL;
    const otc_connection *entry;
    const char *entry_id;
    token = harness_action("token PUBLISHER alice-srv");
    r = recorder_new("alice");
    cb = recorder_callbacks(r);
    cb.on_connection_created = on_created_keep;
    alice.rec = r;
    alice.session = otc_session_new(NULL, harness_session_id(), &cb);
    CHECK(alice.session != NULL);
    CHECK_STATUS(otc_session_connect(alice.session, token), OTC_SUCCESS);
    free(token);
    CHECK(recorder_wait(r, EV_CONNECTED, 1, WAIT_MS));
    alice.id = strdup(otc_connection_get_id(otc_session_get_connection(alice.session)));

    /* Getter strings: stable while the object lives. */
    id1 = otc_session_get_id(alice.session);
    id2 = otc_session_get_id(alice.session);
    CHECK(id1 != NULL && id1 == id2 && strcmp(id1, harness_session_id()) == 0);
    own = otc_session_get_connection(alice.session);
    own_id = otc_connection_get_id(own);
    CHECK(own == otc_session_get_connection(alice.session));
    CHECK(strcmp(otc_connection_get_session_id(own), harness_session_id()) == 0);
    CHECK(otc_connection_get_creation_time(own) > 0);
    CHECK(strcmp(otc_connection_get_server_data(own), "alice-srv") == 0);

    /* A roster snapshot and its entries outlive the session. */
    CHECK_STATUS(otc_session_get_roster(alice.session, &roster), OTC_SUCCESS);
    CHECK(otc_roster_get_count(roster) == 1);
    entry = otc_roster_get_connection(roster, 0);
    entry_id = otc_connection_get_id(entry);

    /* The copy was made in on_connection_created for bob (already present). */
    CHECK(wait_for_kept() != NULL);
    CHECK(strcmp(otc_connection_get_id(kept), bob.id) == 0);
    CHECK(strcmp(own_id, alice.id) == 0);

    client_leave(&alice);
    client_free(&alice);
    CHECK(strcmp(entry_id, bob.id) == 0);
    CHECK(strcmp(otc_connection_get_data(entry), otc_connection_get_data(kept)) == 0);
    otc_roster_delete(roster);
  }
  /* bob leaves; the kept copy still answers. */
  client_leave(&bob);
  CHECK(strcmp(otc_connection_get_id(kept), bob.id) == 0);
  CHECK(strcmp(otc_connection_get_data(kept), "bob-data") == 0);
  CHECK(otc_connection_get_creation_time(kept) > 0);
  CHECK(strcmp(otc_connection_get_session_id(kept), harness_session_id()) == 0);
  {
    otc_connection *second = otc_connection_copy(kept);
    otc_connection_delete(kept);
    CHECK(strcmp(otc_connection_get_id(second), bob.id) == 0);
    otc_connection_delete(second);
  }
  client_free(&bob);

  /* Delete from another thread while events are queued for a slow consumer. */
  {
    struct client sender;
    struct deleter d;
    pthread_t thread;
    char data[32];
    client_join(&sender, "sender", "token", "PUBLISHER", NULL);
    token = harness_action("token PUBLISHER -");
    r = recorder_new("flooded");
    recorder_set_callback_delay_ms(r, 20);
    cb = recorder_callbacks(r);
    s = otc_session_new(NULL, harness_session_id(), &cb);
    CHECK_STATUS(otc_session_connect(s, token), OTC_SUCCESS);
    free(token);
    CHECK(recorder_wait(r, EV_CONNECTED, 1, WAIT_MS));
    for (i = 0; i < 200; i++) {
      snprintf(data, sizeof data, "flood-%d", i);
      CHECK_STATUS(otc_session_send_signal(sender.session, "flood", data), OTC_SUCCESS);
    }
    /* The sender got its own last signal: the server relayed all 200 to the slow consumer too, which
     * has handled only a few of them (20 ms each). */
    CHECK(recorder_wait_for_signal(sender.rec, "flood-199", WAIT_MS));
    d.session = s;
    d.rec = r;
    CHECK(pthread_create(&thread, NULL, delete_from_thread, &d) == 0);
    pthread_join(thread, NULL);
    CHECK(d.released_when_returned == 1);
    CHECK(d.events_when_returned < 150); /* the backlog was really there when delete was called */
    /* Nothing of the backlog reaches the deleted session. */
    harness_sleep_ms(300);
    CHECK(recorder_total(r) == d.events_when_returned);
    CHECK(recorder_event(r, recorder_total(r) - 1).kind == EV_RELEASED);
    recorder_check_clean(r);
    recorder_delete(r);
    client_leave(&sender);
    client_free(&sender);
  }

  /* Delete while connecting: no callback at all, only the release hook. */
  token = harness_action("token PUBLISHER -");
  r = recorder_new("deleted-while-connecting");
  cb = recorder_callbacks(r);
  s = otc_session_new(NULL, harness_session_id(), &cb);
  CHECK_STATUS(otc_session_connect(s, token), OTC_SUCCESS);
  otc_session_delete(s);
  CHECK(recorder_total(r) == 1 && recorder_count(r, EV_RELEASED) == 1);
  harness_sleep_ms(300);
  CHECK(recorder_total(r) == 1);
  recorder_check_clean(r);
  recorder_delete(r);
  free(token);

  /* Disconnect while connecting: the attempt fails with on_error, and there is no on_disconnected. */
  token = harness_action("token PUBLISHER -");
  r = recorder_new("disconnected-while-connecting");
  cb = recorder_callbacks(r);
  s = otc_session_new(NULL, harness_session_id(), &cb);
  CHECK_STATUS(otc_session_connect(s, token), OTC_SUCCESS);
  CHECK_STATUS(otc_session_disconnect(s), OTC_SUCCESS);
  CHECK(recorder_wait(r, EV_ERROR, 1, WAIT_MS));
  harness_sleep_ms(300);
  CHECK(recorder_count(r, EV_CONNECTED) == 0);
  CHECK(recorder_count(r, EV_DISCONNECTED) == 0);
  otc_session_delete(s);
  recorder_check_clean(r);
  recorder_delete(r);
  free(token);

  /* Delete from inside on_connected: the release hook comes right after it, nothing else. */
  token = harness_action("token PUBLISHER -");
  r = recorder_new("deleted-in-callback");
  recorder_set_hook(r, delete_on_connected, NULL);
  cb = recorder_callbacks(r);
  s = otc_session_new(NULL, harness_session_id(), &cb);
  CHECK_STATUS(otc_session_connect(s, token), OTC_SUCCESS);
  CHECK(recorder_wait(r, EV_RELEASED, 1, WAIT_MS));
  harness_sleep_ms(300);
  CHECK(recorder_total(r) == 2);
  CHECK(recorder_event(r, 0).kind == EV_CONNECTED && recorder_event(r, 1).kind == EV_RELEASED);
  recorder_check_clean(r);
  recorder_delete(r);
  free(token);

  /* A session never connected: delete runs the release hook. */
  r = recorder_new("idle");
  cb = recorder_callbacks(r);
  s = otc_session_new(NULL, harness_session_id(), &cb);
  otc_session_delete(s);
  CHECK(recorder_total(r) == 1 && recorder_count(r, EV_RELEASED) == 1);
  recorder_delete(r);

  /* *_delete(NULL) is a no-op. */
  otc_session_delete(NULL);
  otc_connection_delete(NULL);
  otc_stream_delete(NULL);
  otc_roster_delete(NULL);
  otc_session_settings_delete(NULL);

  printf("PASS\n");
  return 0;
}
