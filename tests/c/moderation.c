/* Moderation and server-side removal (spec/c-api.md "Moderation", semantics 2 and 3): the reason of every
 * way a client can be removed reaches both the removed client (on_disconnected) and the others
 * (on_connection_dropped); without the MODERATOR role force_disconnect is refused. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clients.h"

/* Waits until `victim` is disconnected with `reason`, seen as dropped with it by each observer. */
static void check_removed(struct client *victim, struct client **observers, int n_observers, int reason) {
  int i;
  CHECK(recorder_wait(victim->rec, EV_DISCONNECTED, 1, WAIT_MS));
  CHECK(recorder_event(victim->rec, recorder_index_of(victim->rec, EV_DISCONNECTED, 0)).reason == reason);
  for (i = 0; i < n_observers; i++) {
    recorder *r = observers[i]->rec;
    int idx;
    CHECK(recorder_wait_for_connection(r, EV_CONNECTION_DROPPED, victim->id, WAIT_MS));
    for (idx = 0; idx < recorder_total(r); idx++) {
      struct event e = recorder_event(r, idx);
      if (e.kind == EV_CONNECTION_DROPPED && strcmp(e.connection_id, victim->id) == 0) {
        CHECK(e.reason == reason);
      }
    }
  }
}

static const otc_connection *find(otc_roster *roster, const char *id) {
  size_t i;
  for (i = 0; i < otc_roster_get_count(roster); i++) {
    if (strcmp(otc_connection_get_id(otc_roster_get_connection(roster, i)), id) == 0) {
      return otc_roster_get_connection(roster, i);
    }
  }
  return NULL;
}

int main(void) {
  struct client mod, pub, victim, kicked_by_server;
  struct client *observers[2];
  struct otc_session_capabilities caps;
  otc_roster *roster = NULL;
  otc_connection *gone;
  char *reply;
  harness_init();

  client_join(&mod, "moderator", "token", "MODERATOR", NULL);
  client_join(&pub, "publisher", "token", "PUBLISHER", NULL);
  client_join(&victim, "victim", "token", "PUBLISHER", NULL);
  client_join(&kicked_by_server, "rest-victim", "token", "SUBSCRIBER", NULL);
  CHECK(recorder_wait_for_connection(mod.rec, EV_CONNECTION_CREATED, kicked_by_server.id, WAIT_MS));
  CHECK(recorder_wait_for_connection(pub.rec, EV_CONNECTION_CREATED, kicked_by_server.id, WAIT_MS));
  observers[0] = &mod;
  observers[1] = &pub;

  /* Capabilities follow the role. */
  CHECK_STATUS(otc_session_get_capabilities(mod.session, &caps), OTC_SUCCESS);
  CHECK(caps.force_disconnect && caps.force_unpublish && caps.publish && caps.subscribe);
  CHECK_STATUS(otc_session_get_capabilities(pub.session, &caps), OTC_SUCCESS);
  CHECK(!caps.force_disconnect && !caps.force_unpublish && caps.publish && caps.subscribe);
  CHECK_STATUS(otc_session_get_capabilities(kicked_by_server.session, &caps), OTC_SUCCESS);
  CHECK(!caps.publish && caps.subscribe);
  CHECK_STATUS(otc_session_get_capabilities(NULL, &caps), OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK_STATUS(otc_session_get_capabilities(mod.session, NULL), OTC_SESSION_NULL_OR_INVALID_PARAMETER);

  /* Without the role: refused at once, nothing happens. */
  CHECK_STATUS(otc_session_get_roster(pub.session, &roster), OTC_SUCCESS);
  CHECK_STATUS(otc_session_force_disconnect(pub.session, find(roster, victim.id)),
               OTC_SESSION_UNABLE_TO_FORCE_DISCONNECT);
  otc_roster_delete(roster);
  CHECK_STATUS(otc_session_force_disconnect(mod.session, NULL), OTC_SESSION_NULL_OR_INVALID_PARAMETER);
  CHECK_STATUS(otc_session_force_unpublish(mod.session, NULL), OTC_SESSION_NULL_OR_INVALID_PARAMETER);

  /* By the moderator. */
  CHECK_STATUS(otc_session_get_roster(mod.session, &roster), OTC_SUCCESS);
  gone = otc_connection_copy(find(roster, victim.id));
  CHECK_STATUS(otc_session_force_disconnect(mod.session, gone), OTC_SUCCESS);
  otc_roster_delete(roster);
  check_removed(&victim, observers, 2, OTC_DISCONNECT_REASON_FORCE_DISCONNECTED_BY_MODERATOR);
  CHECK(recorder_count(victim.rec, EV_CONNECTED) == 1);

  /* Again, now that it is gone: the server refuses, asynchronously, with the same code. */
  CHECK(recorder_count(mod.rec, EV_ERROR) == 0);
  CHECK_STATUS(otc_session_force_disconnect(mod.session, gone), OTC_SUCCESS);
  CHECK(recorder_wait(mod.rec, EV_ERROR, 1, WAIT_MS));
  CHECK(recorder_event(mod.rec, recorder_index_of(mod.rec, EV_ERROR, 0)).code ==
        OTC_SESSION_UNABLE_TO_FORCE_DISCONNECT);
  otc_connection_delete(gone);

  /* By the server's REST API. */
  reply = harness_action("force_disconnect %s", kicked_by_server.id);
  free(reply);
  check_removed(&kicked_by_server, observers, 2, OTC_DISCONNECT_REASON_FORCE_DISCONNECTED_BY_SERVER);

  /* The session closed by the server: everyone left is disconnected with that reason. */
  reply = harness_action("close_session");
  free(reply);
  CHECK(recorder_wait(mod.rec, EV_DISCONNECTED, 1, WAIT_MS));
  CHECK(recorder_wait(pub.rec, EV_DISCONNECTED, 1, WAIT_MS));
  CHECK(recorder_event(mod.rec, recorder_index_of(mod.rec, EV_DISCONNECTED, 0)).reason ==
        OTC_DISCONNECT_REASON_SESSION_CLOSED);
  CHECK(recorder_event(pub.rec, recorder_index_of(pub.rec, EV_DISCONNECTED, 0)).reason ==
        OTC_DISCONNECT_REASON_SESSION_CLOSED);
  CHECK_STATUS(otc_session_disconnect(mod.session), OTC_SESSION_NOT_CONNECTED);

  client_free(&mod);
  client_free(&pub);
  client_free(&victim);
  client_free(&kicked_by_server);
  printf("PASS\n");
  return 0;
}
