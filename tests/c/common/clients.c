/* Implementation of clients.h. */
#define _GNU_SOURCE
#include "clients.h"

#include <stdlib.h>
#include <string.h>

void client_join(struct client *c, const char *name, const char *token_verb, const char *role,
                 otc_session_settings *settings) {
  char *token = harness_action("%s %s %s-data", token_verb, role, name);
  struct otc_session_callbacks cb;
  c->rec = recorder_new(name);
  cb = recorder_callbacks(c->rec);
  c->session = settings == NULL ? otc_session_new(NULL, harness_session_id(), &cb)
                                : otc_session_new_with_settings(NULL, harness_session_id(), &cb, settings);
  CHECK(c->session != NULL);
  CHECK_STATUS(otc_session_connect(c->session, token), OTC_SUCCESS);
  free(token);
  if (!recorder_wait(c->rec, EV_CONNECTED, 1, WAIT_MS)) {
    harness_fail(__FILE__, __LINE__, "%s did not connect", name);
  }
  CHECK(otc_session_get_connection(c->session) != NULL);
  c->id = strdup(otc_connection_get_id(otc_session_get_connection(c->session)));
  harness_log("%s joined as %s", name, c->id);
}

void client_leave(struct client *c) {
  int before = recorder_count(c->rec, EV_DISCONNECTED);
  CHECK_STATUS(otc_session_disconnect(c->session), OTC_SUCCESS);
  CHECK(recorder_wait(c->rec, EV_DISCONNECTED, before + 1, WAIT_MS));
}

void client_free(struct client *c) {
  otc_session_delete(c->session);
  CHECK(recorder_count(c->rec, EV_RELEASED) == 1);
  recorder_check_clean(c->rec);
  recorder_delete(c->rec);
  free(c->id);
  c->session = NULL;
  c->rec = NULL;
  c->id = NULL;
}
