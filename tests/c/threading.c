/* Semantic 5 of spec/c-api.md: callbacks of one session run one at a time, in order, on the library's
 * "otc-dispatch" thread (never the caller's thread, never inside an otc_* call); every otc_* function may be
 * called from inside a callback, including otc_session_disconnect and otc_session_delete of the session
 * delivering it; the API is safe to use from several threads at once. The recorder checks the thread
 * rules on every callback. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clients.h"

/* Alice's hook: exercises the API from inside her callbacks. */
static void alice_hook(recorder *r, otc_session *session, const struct event *e) {
  (void)r;
  if (e->kind == EV_SIGNAL && strcmp(e->data, "ping") == 0) {
    otc_roster *roster = NULL;
    otc_session_state state;
    CHECK_STATUS(otc_session_get_roster(session, &roster), OTC_SUCCESS);
    CHECK(otc_roster_get_count(roster) == 1);
    otc_roster_delete(roster);
    CHECK_STATUS(otc_session_get_state(session, &state), OTC_SUCCESS);
    CHECK(state == OTC_SESSION_STATE_CONNECTED);
    CHECK(otc_session_get_connection(session) != NULL);
    CHECK(otc_session_get_user_data(session) == r);
    CHECK_STATUS(otc_session_send_signal(session, "reply", "pong-from-callback"), OTC_SUCCESS);
  } else if (e->kind == EV_SIGNAL && strcmp(e->data, "leave") == 0) {
    CHECK_STATUS(otc_session_disconnect(session), OTC_SUCCESS);
  } else if (e->kind == EV_DISCONNECTED) {
    /* Delete the session delivering this very callback: torn down once we return, release hook last. */
    otc_session_delete(session);
  }
}

struct hammer {
  otc_session *session;
  int stop;
  pthread_mutex_t lock;
};

/* Another thread calling into the same session while callbacks run. */
static void *hammer_thread(void *arg) {
  struct hammer *h = arg;
  for (;;) {
    otc_roster *roster = NULL;
    otc_session_state state;
    struct otc_session_capabilities caps;
    int stop;
    pthread_mutex_lock(&h->lock);
    stop = h->stop;
    pthread_mutex_unlock(&h->lock);
    if (stop) {
      break;
    }
    CHECK_STATUS(otc_session_get_roster(h->session, &roster), OTC_SUCCESS);
    otc_roster_delete(roster);
    CHECK_STATUS(otc_session_get_state(h->session, &state), OTC_SUCCESS);
    CHECK_STATUS(otc_session_get_capabilities(h->session, &caps), OTC_SUCCESS);
    CHECK(otc_session_get_id(h->session) != NULL);
    CHECK_STATUS(otc_session_send_signal(h->session, "noise", "from-hammer"), OTC_SUCCESS);
    harness_sleep_ms(50);
  }
  return NULL;
}

int main(void) {
  struct client alice, bob;
  struct hammer h;
  pthread_t hammers[2];
  char data[32];
  int i, last;
  harness_init();

  client_join(&alice, "alice", "token", "PUBLISHER", NULL);
  client_join(&bob, "bob", "token", "PUBLISHER", NULL);
  CHECK(recorder_wait_for_connection(alice.rec, EV_CONNECTION_CREATED, bob.id, WAIT_MS));
  /* A slow consumer: overlapping callbacks would be caught by the recorder. */
  recorder_set_callback_delay_ms(alice.rec, 10);
  recorder_set_hook(alice.rec, alice_hook, NULL);

  /* Two foreign threads use bob's session while signals flow. */
  h.session = bob.session;
  h.stop = 0;
  pthread_mutex_init(&h.lock, NULL);
  CHECK(pthread_create(&hammers[0], NULL, hammer_thread, &h) == 0);
  CHECK(pthread_create(&hammers[1], NULL, hammer_thread, &h) == 0);

  for (i = 0; i < 40; i++) {
    snprintf(data, sizeof data, "n-%d", i);
    CHECK_STATUS(otc_session_send_signal(bob.session, "order", data), OTC_SUCCESS);
  }
  CHECK(recorder_wait_for_signal(alice.rec, "n-39", WAIT_MS));
  last = -1;
  for (i = 0; i < recorder_total(alice.rec); i++) {
    struct event e = recorder_event(alice.rec, i);
    if (e.kind == EV_SIGNAL && strcmp(e.text, "order") == 0) {
      CHECK(atoi(e.data + 2) == last + 1);
      last = atoi(e.data + 2);
    }
  }
  CHECK(last == 39);

  /* otc_* calls from inside alice's callback (the hook answers with a signal). */
  CHECK_STATUS(otc_session_send_signal(bob.session, "cmd", "ping"), OTC_SUCCESS);
  CHECK(recorder_wait_for_signal(bob.rec, "pong-from-callback", WAIT_MS));

  pthread_mutex_lock(&h.lock);
  h.stop = 1;
  pthread_mutex_unlock(&h.lock);
  pthread_join(hammers[0], NULL);
  pthread_join(hammers[1], NULL);
  pthread_mutex_destroy(&h.lock);

  /* Disconnect from inside a callback, then delete from inside on_disconnected. */
  CHECK_STATUS(otc_session_send_signal(bob.session, "cmd", "leave"), OTC_SUCCESS);
  CHECK(recorder_wait(alice.rec, EV_RELEASED, 1, WAIT_MS));
  CHECK(recorder_count(alice.rec, EV_DISCONNECTED) == 1);
  CHECK(recorder_event(alice.rec, recorder_total(alice.rec) - 1).kind == EV_RELEASED);
  CHECK(recorder_event(alice.rec, recorder_total(alice.rec) - 2).kind == EV_DISCONNECTED);
  CHECK(recorder_wait_for_connection(bob.rec, EV_CONNECTION_DROPPED, alice.id, WAIT_MS));
  /* Nothing may arrive for alice any more (the recorder flags a callback after release). */
  harness_sleep_ms(300);
  recorder_check_clean(alice.rec);
  recorder_delete(alice.rec);
  free(alice.id);

  client_leave(&bob);
  client_free(&bob);
  printf("PASS\n");
  return 0;
}
