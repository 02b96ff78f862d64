/* A connected test client: a session plus its recorder (used by several C tests). */
#ifndef OTC_TEST_CLIENTS_H
#define OTC_TEST_CLIENTS_H

#include "harness.h"

struct client {
  recorder *rec;
  otc_session *session;
  char *id; /* own connection id, malloc'd */
};

/** Creates a session for harness_session_id(), connects with a fresh token of `role` (token action
 * `token_verb`: "token" or "token_via_proxy"), and waits for on_connected. `settings` may be NULL. */
void client_join(struct client *c, const char *name, const char *token_verb, const char *role,
                 otc_session_settings *settings);
/** Disconnects and waits for on_disconnected. */
void client_leave(struct client *c);
/** Deletes the session (release hook must have run when it returns) and frees the recorder. */
void client_free(struct client *c);

#endif
