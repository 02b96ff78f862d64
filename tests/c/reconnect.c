/* Semantic 4 of spec/c-api.md: on network loss, on_reconnection_started, then on_reconnected with the same
 * connection id and the roster reconciled (a drop and a join that happened meanwhile are delivered before
 * on_reconnected), signals queued with retry_after_reconnect are sent on resume and refused at once
 * without it; when the reconnection window ends, on_disconnected(NETWORK_LOST). Alice goes through a
 * fault-injecting proxy driven by the harness (proxy_* actions). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clients.h"

static otc_session_settings *fast_keepalive(unsigned window_ms) {
  otc_session_settings *settings = otc_session_settings_new();
  CHECK(settings != NULL);
  CHECK_STATUS(otc_session_settings_set_ping_interval(settings, 500), OTC_SUCCESS);
  CHECK_STATUS(otc_session_settings_set_ping_timeout(settings, 1000), OTC_SUCCESS);
  CHECK_STATUS(otc_session_settings_set_reconnection_window(settings, window_ms), OTC_SUCCESS);
  /* Each redial is bounded by these: a redial stuck in the blackhole gives up quickly. */
  CHECK_STATUS(otc_session_settings_set_connect_timeout(settings, 2000), OTC_SUCCESS);
  CHECK_STATUS(otc_session_settings_set_request_timeout(settings, 2000), OTC_SUCCESS);
  return settings;
}

static void action(const char *verb) {
  free(harness_action("%s", verb));
}

int main(void) {
  struct client alice, bob, carol, dave;
  otc_session_settings *settings;
  struct otc_signal_options no_retry;
  int reconnected_at;
  harness_init();

  settings = fast_keepalive(20000);
  client_join(&alice, "alice", "token_via_proxy", "PUBLISHER", settings);
  otc_session_settings_delete(settings);
  client_join(&bob, "bob", "token", "PUBLISHER", NULL);
  CHECK(recorder_wait_for_connection(alice.rec, EV_CONNECTION_CREATED, bob.id, WAIT_MS));

  /* The network goes silent: alice notices through her keepalive. */
  action("proxy_blackhole");
  CHECK(recorder_wait(alice.rec, EV_RECONNECTING, 1, WAIT_MS));

  /* While reconnecting: a signal without retry fails at once, one with retry is queued. */
  no_retry.retry_after_reconnect = OTC_FALSE;
  CHECK_STATUS(otc_session_send_signal_with_options(alice.session, "chat", "not-queued", no_retry),
               OTC_SESSION_NOT_CONNECTED);
  CHECK_STATUS(otc_session_send_signal(alice.session, "chat", "queued"), OTC_SUCCESS);

  /* Meanwhile bob leaves and carol joins, once the server noticed the cut too. (Notifications the server
   * writes to the dead socket before its watchdog fires are lost: finding F2 in
   * docs/network-loss-findings.md, covered by tests/network_loss.rs.) */
  action("proxy_wait_server_closed");
  client_leave(&bob);
  client_join(&carol, "carol", "token", "PUBLISHER", NULL);

  action("proxy_restore");
  CHECK(recorder_wait(alice.rec, EV_RECONNECTED, 1, WAIT_MS));
  reconnected_at = recorder_index_of(alice.rec, EV_RECONNECTED, 0);
  recorder_dump(alice.rec); /* shown only when the test fails */
  CHECK(recorder_index_of(alice.rec, EV_RECONNECTING, 0) < reconnected_at);
  CHECK(strcmp(otc_connection_get_id(otc_session_get_connection(alice.session)), alice.id) == 0);
  /* Roster reconciled before on_reconnected. */
  CHECK(recorder_count_for_connection(alice.rec, EV_CONNECTION_DROPPED, bob.id) == 1);
  CHECK(recorder_count_for_connection(alice.rec, EV_CONNECTION_CREATED, carol.id) == 1);
  {
    int i;
    for (i = reconnected_at; i < recorder_total(alice.rec); i++) {
      struct event e = recorder_event(alice.rec, i);
      CHECK(!(e.kind == EV_CONNECTION_DROPPED && strcmp(e.connection_id, bob.id) == 0));
      CHECK(!(e.kind == EV_CONNECTION_CREATED && strcmp(e.connection_id, carol.id) == 0));
    }
  }
  /* The queued signal was sent on resume; the refused one never. */
  CHECK(recorder_wait_for_signal(carol.rec, "queued", WAIT_MS));
  CHECK(recorder_count(alice.rec, EV_DISCONNECTED) == 0);
  CHECK_STATUS(otc_session_send_signal(alice.session, "chat", "after-resume"), OTC_SUCCESS);
  CHECK(recorder_wait_for_signal(carol.rec, "after-resume", WAIT_MS));
  {
    int i;
    for (i = 0; i < recorder_total(carol.rec); i++) {
      struct event e = recorder_event(carol.rec, i);
      CHECK(!(e.kind == EV_SIGNAL && strcmp(e.data, "not-queued") == 0));
    }
  }
  client_leave(&alice);

  /* The reconnection window ends while the network stays down: on_disconnected(NETWORK_LOST). */
  settings = fast_keepalive(2000);
  client_join(&dave, "dave", "token_via_proxy", "PUBLISHER", settings);
  otc_session_settings_delete(settings);
  action("proxy_refuse");
  action("proxy_reset");
  CHECK(recorder_wait(dave.rec, EV_RECONNECTING, 1, WAIT_MS));
  CHECK(recorder_wait(dave.rec, EV_DISCONNECTED, 1, WAIT_MS));
  CHECK(recorder_event(dave.rec, recorder_index_of(dave.rec, EV_DISCONNECTED, 0)).reason ==
        OTC_DISCONNECT_REASON_NETWORK_LOST);
  CHECK(recorder_count(dave.rec, EV_RECONNECTED) == 0);
  action("proxy_restore");

  client_leave(&carol);
  client_free(&alice);
  client_free(&bob);
  client_free(&carol);
  client_free(&dave);
  printf("PASS\n");
  return 0;
}
