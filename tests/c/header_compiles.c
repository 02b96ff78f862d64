/* Compiled by tests/header.rs as C99 and as C++ with -Wall -Wextra -Werror -pedantic: the header must be
 * clean in both languages, and the callbacks initializer must give a zeroed struct with its size set. */
#include "otc_session.h"

static void on_connected(otc_session *session, void *user_data) {
  (void)session;
  (void)user_data;
}

int main(void) {
  struct otc_session_callbacks callbacks = OTC_SESSION_CALLBACKS_INIT;
  struct otc_signal_options options;
  otc_disconnect_reason reason = OTC_DISCONNECT_REASON_NETWORK_LOST;
  otc_session_state state = OTC_SESSION_STATE_IDLE;
  otc_status status = OTC_SUCCESS;
  callbacks.on_connected = on_connected;
  options.retry_after_reconnect = OTC_TRUE;
  if (callbacks.size != sizeof(struct otc_session_callbacks) || callbacks.on_error != NULL ||
      callbacks.user_data != NULL) {
    return 1;
  }
  (void)options;
  (void)reason;
  (void)state;
  (void)status;
  return 0;
}
