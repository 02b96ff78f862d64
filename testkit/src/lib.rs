//! Test tools for otc-session.
