/* Signals (spec/c-api.md "Signals" and semantics 5, 7): to everyone (the sender included), to one
 * connection, from the server (from = NULL), in order; limits checked before sending; wrong state and bad
 * arguments return their status; a server refusal arrives through on_error. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clients.h"

static otc_connection *copy_of_roster_entry(otc_session *session, const char *id) {
  otc_roster *roster = NULL;
  otc_connection *copy = NULL;
  size_t i;
  CHECK_STATUS(otc_session_get_roster(session, &roster), OTC_SUCCESS);
  for (i = 0; i < otc_roster_get_count(roster); i++) {
    const otc_connection *c = otc_roster_get_connection(roster, i);
    if (strcmp(otc_connection_get_id(c), id) == 0) {
      copy = otc_connection_copy(c);
    }
  }
  otc_roster_delete(roster);
  CHECK(copy != NULL);
  return copy;
}

int main(void) {
  struct client a, b;
  otc_connection *to_b;
  char *big;
  char type_129[130];
  char data[64];
  char *reply;
  struct otc_signal_options no_retry;
  int i, idx, last;
  harness_init();

  client_join(&a, "alice", "token", "PUBLISHER", NULL);
  client_join(&b, "bob", "token", "PUBLISHER", NULL);
  CHECK(recorder_wait_for_connection(a.rec, EV_CONNECTION_CREATED, b.id, WAIT_MS));

  /* To everyone, the sender included, with the sender's connection. */
  CHECK_STATUS(otc_session_send_signal(a.session, "chat", "hello-all"), OTC_SUCCESS);
  CHECK(recorder_wait_for_signal(a.rec, "hello-all", WAIT_MS));
  CHECK(recorder_wait_for_signal(b.rec, "hello-all", WAIT_MS));
  idx = recorder_index_of(b.rec, EV_SIGNAL, 0);
  CHECK(strcmp(recorder_event(b.rec, idx).text, "chat") == 0);
  CHECK(strcmp(recorder_event(b.rec, idx).connection_id, a.id) == 0);

  /* To one connection: bob gets it, alice does not (her own later broadcast arrives, the direct one never). */
  to_b = copy_of_roster_entry(a.session, b.id);
  CHECK_STATUS(otc_session_send_signal_to_connection(a.session, "dm", "hello-bob", to_b), OTC_SUCCESS);
  CHECK(recorder_wait_for_signal(b.rec, "hello-bob", WAIT_MS));
  CHECK_STATUS(otc_session_send_signal(a.session, "chat", "marker"), OTC_SUCCESS);
  CHECK(recorder_wait_for_signal(a.rec, "marker", WAIT_MS));
  for (i = 0; i < recorder_total(a.rec); i++) {
    struct event e = recorder_event(a.rec, i);
    CHECK(!(e.kind == EV_SIGNAL && strcmp(e.data, "hello-bob") == 0));
  }

  /* From the server: no sender. */
  reply = harness_action("signal news from-server");
  free(reply);
  CHECK(recorder_wait_for_signal(a.rec, "from-server", WAIT_MS));
  CHECK(recorder_wait_for_signal(b.rec, "from-server", WAIT_MS));
  for (i = 0; i < recorder_total(b.rec); i++) {
    struct event e = recorder_event(b.rec, i);
    if (e.kind == EV_SIGNAL && strcmp(e.data, "from-server") == 0) {
      CHECK(e.connection_id == NULL);
      CHECK(strcmp(e.text, "news") == 0);
    }
  }

  /* In order. */
  for (i = 0; i < 30; i++) {
    snprintf(data, sizeof data, "seq-%d", i);
    CHECK_STATUS(otc_session_send_signal(a.session, "seq", data), OTC_SUCCESS);
  }
  CHECK(recorder_wait_for_signal(b.rec, "seq-29", WAIT_MS));
  last = -1;
  for (i = 0; i < recorder_total(b.rec); i++) {
    struct event e = recorder_event(b.rec, i);
    if (e.kind == EV_SIGNAL && strcmp(e.text, "seq") == 0) {
      int n = atoi(e.data + 4);
      CHECK(n == last + 1);
      last = n;
    }
  }
  CHECK(last == 29);

  /* Limits, checked before sending. */
  big = malloc(8194);
  CHECK(big != NULL);
  memset(big, 'x', 8193);
  big[8193] = '\0';
  CHECK_STATUS(otc_session_send_signal(a.session, "chat", big), OTC_SESSION_SIGNAL_DATA_TOO_LONG);
  big[8192] = '\0';
  CHECK_STATUS(otc_session_send_signal(a.session, "big", big), OTC_SUCCESS);
  free(big);
  memset(type_129, 'a', 129);
  type_129[129] = '\0';
  CHECK_STATUS(otc_session_send_signal(a.session, type_129, "x"), OTC_SESSION_SIGNAL_TYPE_TOO_LONG);
  type_129[128] = '\0';
  CHECK_STATUS(otc_session_send_signal(a.session, type_129, "max-type"), OTC_SUCCESS);
  CHECK_STATUS(otc_session_send_signal(a.session, "bad type!", "x"), OTC_SESSION_INVALID_SIGNAL_TYPE);
  CHECK_STATUS(otc_session_send_signal(a.session, "", "empty-type"), OTC_SUCCESS);
  CHECK_STATUS(otc_session_send_signal(a.session, "Ok-_~.9", "allowed-chars"), OTC_SUCCESS);
  CHECK(recorder_wait_for_signal(b.rec, "max-type", WAIT_MS));
  CHECK(recorder_wait_for_signal(b.rec, "empty-type", WAIT_MS));
  CHECK(recorder_wait_for_signal(b.rec, "allowed-chars", WAIT_MS));

  /* Bad arguments. */
  CHECK_STATUS(otc_session_send_signal(NULL, "chat", "x"), OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK_STATUS(otc_session_send_signal(a.session, NULL, "x"), OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK_STATUS(otc_session_send_signal(a.session, "chat", NULL), OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK_STATUS(otc_session_send_signal(a.session, "chat", "\xff\xfe"), OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK_STATUS(otc_session_send_signal(a.session, "ch\xc3", "x"), OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK_STATUS(otc_session_send_signal_to_connection(a.session, "chat", "x", NULL),
               OTC_SESSION_NULL_OR_INVALID_PARAMETER);

  /* With options, while connected: sent. */
  no_retry.retry_after_reconnect = OTC_FALSE;
  CHECK_STATUS(otc_session_send_signal_with_options(a.session, "opt", "with-options", no_retry), OTC_SUCCESS);
  CHECK_STATUS(otc_session_send_signal_to_connection_with_options(a.session, "opt", "direct-with-options", to_b,
                                                                  no_retry),
               OTC_SUCCESS);
  CHECK(recorder_wait_for_signal(b.rec, "with-options", WAIT_MS));
  CHECK(recorder_wait_for_signal(b.rec, "direct-with-options", WAIT_MS));

  /* Bob leaves: a signal to his (kept) connection is refused by the server, through on_error. */
  client_leave(&b);
  CHECK(recorder_wait_for_connection(a.rec, EV_CONNECTION_DROPPED, b.id, WAIT_MS));
  CHECK_STATUS(otc_session_send_signal_to_connection(a.session, "dm", "to-nobody", to_b), OTC_SUCCESS);
  CHECK(recorder_wait(a.rec, EV_ERROR, 1, WAIT_MS));
  CHECK(recorder_event(a.rec, recorder_index_of(a.rec, EV_ERROR, 0)).code == OTC_SESSION_SIGNAL_FAILED);
  CHECK(strcmp(otc_connection_get_id(to_b), b.id) == 0); /* the copy outlives the connection */
  otc_connection_delete(to_b);

  /* Not connected. */
  client_leave(&a);
  CHECK_STATUS(otc_session_send_signal(a.session, "chat", "late"), OTC_SESSION_NOT_CONNECTED);

  client_free(&a);
  client_free(&b);
  printf("PASS\n");
  return 0;
}
