/* Semantics 1-3 of spec/c-api.md: on_connected then on_connection_created for every other client (never
 * the own one), none with connection events suppressed; on_connection_dropped once per leaving client with
 * its reason; on_disconnected exactly once per on_connected, last; a failed connect gives on_error and no
 * on_disconnected. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/harness.h"

struct client {
  recorder *rec;
  otc_session *session;
  char *id;
};

static void join(struct client *c, const char *name, const char *role, const char *server_data,
                 const char *client_data, int suppressed) {
  char *token = harness_action("token %s %s", role, server_data);
  struct otc_session_callbacks cb;
  otc_session_settings *settings = otc_session_settings_new();
  CHECK(settings != NULL);
  c->rec = recorder_new(name);
  cb = recorder_callbacks(c->rec);
  CHECK_STATUS(otc_session_settings_set_client_data(settings, client_data), OTC_SUCCESS);
  CHECK_STATUS(otc_session_settings_set_connection_events_suppressed(settings, suppressed), OTC_SUCCESS);
  c->session = otc_session_new_with_settings(NULL, harness_session_id(), &cb, settings);
  otc_session_settings_delete(settings);
  CHECK(c->session != NULL);
  CHECK_STATUS(otc_session_connect(c->session, token), OTC_SUCCESS);
  free(token);
  CHECK(recorder_wait(c->rec, EV_CONNECTED, 1, WAIT_MS));
  CHECK(otc_session_get_connection(c->session) != NULL);
  c->id = strdup(otc_connection_get_id(otc_session_get_connection(c->session)));
  harness_log("%s joined as %s", name, c->id);
}

static void leave_and_delete(struct client *c, int expected_connected) {
  CHECK_STATUS(otc_session_disconnect(c->session), OTC_SUCCESS);
  CHECK(recorder_wait(c->rec, EV_DISCONNECTED, expected_connected, WAIT_MS));
  otc_session_delete(c->session);
  /* When delete returns, the release hook has run and was the last thing. */
  CHECK(recorder_count(c->rec, EV_RELEASED) == 1);
  CHECK(recorder_event(c->rec, recorder_total(c->rec) - 1).kind == EV_RELEASED);
}

/* on_disconnected exactly once per on_connected, each the last event of its connection. */
static void check_connected_disconnected_pairs(recorder *r) {
  int i, open = 0, total = recorder_total(r);
  for (i = 0; i < total; i++) {
    struct event e = recorder_event(r, i);
    if (e.kind == EV_CONNECTED) {
      CHECK(open == 0);
      open = 1;
    } else if (e.kind == EV_DISCONNECTED) {
      CHECK(open == 1);
      open = 0;
    } else if (e.kind != EV_RELEASED && e.kind != EV_ERROR) {
      CHECK(open == 1); /* roster events only inside a connection */
    }
  }
  CHECK(open == 0);
}

static void connect_failure_gives_error_and_no_disconnected(const char *token, otc_status expected) {
  recorder *r = recorder_new("failing");
  struct otc_session_callbacks cb = recorder_callbacks(r);
  otc_session *s = otc_session_new(NULL, harness_session_id(), &cb);
  CHECK(s != NULL);
  CHECK_STATUS(otc_session_connect(s, token), OTC_SUCCESS);
  CHECK(recorder_wait(r, EV_ERROR, 1, WAIT_MS));
  {
    struct event e = recorder_event(r, recorder_index_of(r, EV_ERROR, 0));
    if (e.code != expected) {
      harness_fail(__FILE__, __LINE__, "on_error(%d, \"%s\"), expected code %d", e.code, e.text, (int)expected);
    }
  }
  otc_session_delete(s);
  CHECK(recorder_count(r, EV_CONNECTED) == 0);
  CHECK(recorder_count(r, EV_DISCONNECTED) == 0);
  CHECK(recorder_count(r, EV_ERROR) == 1);
  recorder_check_clean(r);
  recorder_delete(r);
}

int main(void) {
  struct client a, b, c;
  otc_roster *roster = NULL;
  char *token_a2;
  char unreachable[512];
  size_t i;
  int found_b = 0, found_c = 0;
  harness_init();

  join(&a, "alice", "PUBLISHER", "alice-srv", "alice-cli", OTC_FALSE);
  CHECK(strcmp(otc_connection_get_server_data(otc_session_get_connection(a.session)), "alice-srv") == 0);
  CHECK(strcmp(otc_connection_get_client_data(otc_session_get_connection(a.session)), "alice-cli") == 0);

  /* Rule 1: bob sees alice (already present) after his on_connected; alice sees bob join. */
  join(&b, "bob", "PUBLISHER", "bob-srv", "bob-cli", OTC_FALSE);
  CHECK(recorder_wait_for_connection(b.rec, EV_CONNECTION_CREATED, a.id, WAIT_MS));
  CHECK(recorder_index_of(b.rec, EV_CONNECTED, 0) < recorder_index_of(b.rec, EV_CONNECTION_CREATED, 0));
  CHECK(recorder_wait_for_connection(a.rec, EV_CONNECTION_CREATED, b.id, WAIT_MS));

  /* Carol suppresses connection events: none for her, but the others see her. */
  join(&c, "carol", "PUBLISHER", "-", "carol-cli", OTC_TRUE);
  CHECK(recorder_wait_for_connection(a.rec, EV_CONNECTION_CREATED, c.id, WAIT_MS));
  CHECK(recorder_wait_for_connection(b.rec, EV_CONNECTION_CREATED, c.id, WAIT_MS));

  /* Roster snapshot: the others, never the own connection. */
  CHECK_STATUS(otc_session_get_roster(a.session, &roster), OTC_SUCCESS);
  CHECK(otc_roster_get_count(roster) == 2);
  for (i = 0; i < otc_roster_get_count(roster); i++) {
    const char *id = otc_connection_get_id(otc_roster_get_connection(roster, i));
    found_b |= strcmp(id, b.id) == 0;
    found_c |= strcmp(id, c.id) == 0;
    CHECK(strcmp(id, a.id) != 0);
  }
  CHECK(found_b && found_c);
  CHECK(otc_roster_get_connection(roster, 2) == NULL);
  otc_roster_delete(roster);

  /* Rule 2: bob leaves; alice (not carol) sees him dropped with his reason. */
  leave_and_delete(&b, 1);
  CHECK(recorder_event(b.rec, recorder_index_of(b.rec, EV_DISCONNECTED, 0)).reason ==
        OTC_DISCONNECT_REASON_CLIENT_DISCONNECTED);
  CHECK(recorder_wait_for_connection(a.rec, EV_CONNECTION_DROPPED, b.id, WAIT_MS));
  CHECK(recorder_event(a.rec, recorder_index_of(a.rec, EV_CONNECTION_DROPPED, 0)).reason ==
        OTC_DISCONNECT_REASON_CLIENT_DISCONNECTED);

  leave_and_delete(&c, 1);
  CHECK(recorder_wait_for_connection(a.rec, EV_CONNECTION_DROPPED, c.id, WAIT_MS));
  CHECK(recorder_count(c.rec, EV_CONNECTION_CREATED) == 0);
  CHECK(recorder_count(c.rec, EV_CONNECTION_DROPPED) == 0);

  /* Alice leaves, then connects again on the same session object with a new token. */
  CHECK_STATUS(otc_session_disconnect(a.session), OTC_SUCCESS);
  CHECK(recorder_wait(a.rec, EV_DISCONNECTED, 1, WAIT_MS));
  token_a2 = harness_action("token PUBLISHER -");
  CHECK_STATUS(otc_session_connect(a.session, token_a2), OTC_SUCCESS);
  free(token_a2);
  CHECK(recorder_wait(a.rec, EV_CONNECTED, 2, WAIT_MS));
  leave_and_delete(&a, 2);

  /* Never for the own connection; exactly once per other client. */
  CHECK(recorder_count_for_connection(a.rec, EV_CONNECTION_CREATED, a.id) == 0);
  CHECK(recorder_count_for_connection(b.rec, EV_CONNECTION_CREATED, b.id) == 0);
  CHECK(recorder_count_for_connection(a.rec, EV_CONNECTION_CREATED, b.id) == 1);
  CHECK(recorder_count_for_connection(a.rec, EV_CONNECTION_CREATED, c.id) == 1);
  CHECK(recorder_count_for_connection(a.rec, EV_CONNECTION_DROPPED, b.id) == 1);
  CHECK(recorder_count_for_connection(a.rec, EV_CONNECTION_DROPPED, c.id) == 1);
  CHECK(recorder_count(a.rec, EV_CONNECTED) == 2 && recorder_count(a.rec, EV_DISCONNECTED) == 2);
  check_connected_disconnected_pairs(a.rec);
  check_connected_disconnected_pairs(b.rec);
  check_connected_disconnected_pairs(c.rec);

  /* Rule 3, failures: a used token is refused (1004); a port nobody listens on refuses (1023). */
  {
    char *used = harness_action("token PUBLISHER -");
    recorder *r = recorder_new("first-use");
    struct otc_session_callbacks cb = recorder_callbacks(r);
    otc_session *s = otc_session_new(NULL, harness_session_id(), &cb);
    CHECK(s != NULL);
    CHECK_STATUS(otc_session_connect(s, used), OTC_SUCCESS);
    CHECK(recorder_wait(r, EV_CONNECTED, 1, WAIT_MS));
    /* While its first user is still in the session (an empty session is removed by the server). */
    connect_failure_gives_error_and_no_disconnected(used, OTC_SESSION_AUTHORIZATION_FAILURE);
    CHECK_STATUS(otc_session_disconnect(s), OTC_SUCCESS);
    CHECK(recorder_wait(r, EV_DISCONNECTED, 1, WAIT_MS));
    otc_session_delete(s);
    recorder_check_clean(r);
    recorder_delete(r);
    free(used);
  }
  snprintf(unreachable, sizeof unreachable, "ws://127.0.0.1:1?sessionId=%s&token=tok_AAAAAAAAAAAAAAAA",
           harness_session_id());
  connect_failure_gives_error_and_no_disconnected(unreachable, OTC_SESSION_CONNECTION_REFUSED);

  recorder_check_clean(a.rec);
  recorder_check_clean(b.rec);
  recorder_check_clean(c.rec);
  recorder_delete(a.rec);
  recorder_delete(b.rec);
  recorder_delete(c.rec);
  free(a.id);
  free(b.id);
  free(c.id);
  printf("PASS\n");
  return 0;
}
