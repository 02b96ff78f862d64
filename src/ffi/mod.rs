//! The C ABI (see include/otc_session.h).
