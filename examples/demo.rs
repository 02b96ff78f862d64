//! `cargo run --example demo [-- --fast]`: three clients in one session, driven through the library's C API.
//!
//! Starts the embedded server, creates a session and three tokens over the REST API (real HTTP with
//! Basic auth, as a backend would), then makes Ana (MODERATOR), Ben and Cho join, signal, has Ana
//! force Ben out, and lets the others leave. Every client is an `otc_session` created with a real
//! `struct otc_session_callbacks`, so each line printed is exactly what a C application receives.

use std::error::Error;
use std::ffi::{c_char, c_void, CStr, CString};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use ::otc_session::ffi::*;
use base64::Engine;
use otc_server::{EmbeddedServer, ServerConfig};

const SECRET: &str = "demo-secret";
const WAIT: Duration = Duration::from_secs(15);

/// What one client saw, shared with its callbacks through `user_data`.
struct Client {
    name: &'static str,
    started: Instant,
    events: Mutex<Vec<String>>,
    changed: Condvar,
}

impl Client {
    fn record(&self, kind: &str, detail: String) {
        let elapsed = self.started.elapsed();
        println!(
            "[{:>3}.{:03}s] {:<4} {kind:<20} {detail}",
            elapsed.as_secs(),
            elapsed.subsec_millis(),
            self.name
        );
        self.events.lock().unwrap().push(format!("{kind} {detail}"));
        self.changed.notify_all();
    }

    /// Waits until an event starting with `prefix` was seen.
    fn wait_for(&self, prefix: &str) -> Result<(), Box<dyn Error>> {
        let deadline = Instant::now() + WAIT;
        let mut events = self.events.lock().unwrap();
        while !events.iter().any(|e| e.starts_with(prefix)) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("{} never saw {prefix:?}", self.name).into());
            }
            events = self.changed.wait_timeout(events, left).unwrap().0;
        }
        Ok(())
    }
}

/// A C string argument as Rust text (the demo's callbacks only receive valid UTF-8).
fn text(ptr: *const c_char) -> String {
    if ptr.is_null() {
        return "(null)".into();
    }
    unsafe { CStr::from_ptr(ptr) }
        .to_string_lossy()
        .into_owned()
}

fn client(user_data: *mut c_void) -> &'static Client {
    unsafe { &*(user_data as *const Client) }
}

fn reason_text(reason: otc_disconnect_reason) -> &'static str {
    match reason {
        otc_disconnect_reason::ClientDisconnected => "client disconnected",
        otc_disconnect_reason::ForceDisconnectedByModerator => "forced out by a moderator",
        otc_disconnect_reason::ForceDisconnectedByServer => "forced out by the server",
        otc_disconnect_reason::SessionClosed => "session closed",
        otc_disconnect_reason::NetworkLost => "network lost",
        otc_disconnect_reason::ServerStopped => "server stopped",
        otc_disconnect_reason::Unknown => "unknown",
    }
}

unsafe extern "C" fn on_connected(session: *mut otc_session, user_data: *mut c_void) {
    let own = otc_connection_get_id(otc_session_get_connection(session));
    client(user_data).record("connected", format!("as {}", text(own)));
}

unsafe extern "C" fn on_disconnected(
    _: *mut otc_session,
    user_data: *mut c_void,
    reason: otc_disconnect_reason,
) {
    client(user_data).record("disconnected", reason_text(reason).into());
}

unsafe extern "C" fn on_connection_created(
    _: *mut otc_session,
    user_data: *mut c_void,
    connection: *const otc_connection,
) {
    let detail = format!(
        "{} (data {:?})",
        text(otc_connection_get_id(connection)),
        text(otc_connection_get_data(connection))
    );
    client(user_data).record("connection_created", detail);
}

unsafe extern "C" fn on_connection_dropped(
    _: *mut otc_session,
    user_data: *mut c_void,
    connection: *const otc_connection,
    reason: otc_disconnect_reason,
) {
    let detail = format!(
        "{} ({})",
        text(otc_connection_get_id(connection)),
        reason_text(reason)
    );
    client(user_data).record("connection_dropped", detail);
}

unsafe extern "C" fn on_signal_received(
    _: *mut otc_session,
    user_data: *mut c_void,
    signal_type: *const c_char,
    data: *const c_char,
    from: *const otc_connection,
) {
    let sender = if from.is_null() {
        "the server".to_string()
    } else {
        text(otc_connection_get_id(from))
    };
    client(user_data).record(
        "signal",
        format!("[{}] {:?} from {sender}", text(signal_type), text(data)),
    );
}

unsafe extern "C" fn on_error(
    _: *mut otc_session,
    user_data: *mut c_void,
    message: *const c_char,
    code: otc_status,
) {
    client(user_data).record("error", format!("{code}: {}", text(message)));
}

unsafe extern "C" fn on_release(user_data: *mut c_void) {
    // The release hook runs last: the Client the callbacks borrowed can be freed now.
    let client = unsafe { Box::from_raw(user_data as *mut Client) };
    client.record("released", String::new());
}

/// The server's REST API (`/openvidu/api`), as a backend calls it.
struct Rest {
    base: String,
    authorization: String,
}

impl Rest {
    fn new(http_url: &str) -> Rest {
        let credentials =
            base64::engine::general_purpose::STANDARD.encode(format!("OPENVIDUAPP:{SECRET}"));
        Rest {
            base: format!("{http_url}/openvidu/api"),
            authorization: format!("Basic {credentials}"),
        }
    }

    fn post(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, Box<dyn Error>> {
        let mut response = ureq::post(format!("{}{path}", self.base))
            .header("Authorization", &self.authorization)
            .send_json(body)?;
        Ok(response.body_mut().read_json()?)
    }

    fn create_session(&self) -> Result<String, Box<dyn Error>> {
        let session = self.post("/sessions", serde_json::json!({}))?;
        Ok(session["id"]
            .as_str()
            .ok_or("no session id in the REST answer")?
            .to_string())
    }

    fn broadcast(&self, session_id: &str, kind: &str, data: &str) -> Result<(), Box<dyn Error>> {
        ureq::post(format!("{}/signal", self.base))
            .header("Authorization", &self.authorization)
            .send_json(serde_json::json!({"session": session_id, "type": kind, "data": data}))?;
        Ok(())
    }

    fn create_token(
        &self,
        session_id: &str,
        role: &str,
        data: &str,
    ) -> Result<String, Box<dyn Error>> {
        let connection = self.post(
            &format!("/sessions/{session_id}/connection"),
            serde_json::json!({"role": role, "data": data}),
        )?;
        Ok(connection["token"]
            .as_str()
            .ok_or("no token in the REST answer")?
            .to_string())
    }
}

/// One client: its `otc_session` and the state its callbacks write to. `client` is freed by the release
/// hook, so it is not used after `otc_session_delete`.
struct Participant {
    session: *mut otc_session,
    client: &'static Client,
}

fn join(
    name: &'static str,
    session_id: &str,
    token: &str,
    started: Instant,
) -> Result<Participant, Box<dyn Error>> {
    let client: &'static Client = Box::leak(Box::new(Client {
        name,
        started,
        events: Mutex::new(Vec::new()),
        changed: Condvar::new(),
    }));
    let mut callbacks: otc_session_callbacks = unsafe { std::mem::zeroed() };
    callbacks.size = std::mem::size_of::<otc_session_callbacks>();
    callbacks.user_data = client as *const Client as *mut c_void;
    callbacks.on_release = Some(on_release);
    callbacks.on_connected = Some(on_connected);
    callbacks.on_disconnected = Some(on_disconnected);
    callbacks.on_connection_created = Some(on_connection_created);
    callbacks.on_connection_dropped = Some(on_connection_dropped);
    callbacks.on_signal_received = Some(on_signal_received);
    callbacks.on_error = Some(on_error);

    let settings = otc_session_settings_new();
    let client_data = CString::new(format!("{name}'s laptop"))?;
    otc_session_settings_set_client_data(settings, client_data.as_ptr());
    let session_id = CString::new(session_id)?;
    let session =
        otc_session_new_with_settings(std::ptr::null(), session_id.as_ptr(), &callbacks, settings);
    otc_session_settings_delete(settings);
    if session.is_null() {
        return Err("otc_session_new_with_settings failed".into());
    }
    let token = CString::new(token)?;
    let status = otc_session_connect(session, token.as_ptr());
    if status != OTC_SUCCESS {
        return Err(format!("connect: {}", text(otc_status_str(status))).into());
    }
    client.wait_for("connected")?;
    Ok(Participant { session, client })
}

fn signal(from: &Participant, kind: &str, data: &str) -> Result<(), Box<dyn Error>> {
    let (kind, data) = (CString::new(kind)?, CString::new(data)?);
    match otc_session_send_signal(from.session, kind.as_ptr(), data.as_ptr()) {
        OTC_SUCCESS => Ok(()),
        status => Err(format!("signal: {}", text(otc_status_str(status))).into()),
    }
}

/// Sends a signal to one connection, found in the sender's roster.
fn signal_to(
    from: &Participant,
    to_id: &str,
    kind: &str,
    data: &str,
) -> Result<(), Box<dyn Error>> {
    let (kind, data) = (CString::new(kind)?, CString::new(data)?);
    let mut roster: *mut otc_roster = std::ptr::null_mut();
    if otc_session_get_roster(from.session, &mut roster) != OTC_SUCCESS {
        return Err("roster".into());
    }
    let mut status = None;
    for index in 0..otc_roster_get_count(roster) {
        let connection = otc_roster_get_connection(roster, index);
        if text(otc_connection_get_id(connection)) == to_id {
            status = Some(otc_session_send_signal_to_connection(
                from.session,
                kind.as_ptr(),
                data.as_ptr(),
                connection,
            ));
        }
    }
    otc_roster_delete(roster);
    match status {
        Some(OTC_SUCCESS) => Ok(()),
        Some(code) => Err(format!("signal: {}", text(otc_status_str(code))).into()),
        None => Err(format!("{to_id} is not in the roster").into()),
    }
}

/// The own connection id of a participant.
fn id_of(participant: &Participant) -> String {
    text(otc_connection_get_id(otc_session_get_connection(
        participant.session,
    )))
}

/// Force-disconnects `victim_id` through the moderator's roster.
fn kick(moderator: &Participant, victim_id: &str) -> Result<(), Box<dyn Error>> {
    let mut roster: *mut otc_roster = std::ptr::null_mut();
    if otc_session_get_roster(moderator.session, &mut roster) != OTC_SUCCESS {
        return Err("roster".into());
    }
    let mut status = None;
    for index in 0..otc_roster_get_count(roster) {
        let connection = otc_roster_get_connection(roster, index);
        if text(otc_connection_get_id(connection)) == victim_id {
            status = Some(otc_session_force_disconnect(moderator.session, connection));
        }
    }
    otc_roster_delete(roster);
    match status {
        Some(OTC_SUCCESS) => Ok(()),
        Some(code) => Err(format!("force disconnect: {}", text(otc_status_str(code))).into()),
        None => Err(format!("{victim_id} is not in the roster").into()),
    }
}

fn leave(participant: &Participant) -> Result<(), Box<dyn Error>> {
    otc_session_disconnect(participant.session);
    participant.client.wait_for("disconnected")
}

/// Prints what happens next and, unless `--fast` was given, pauses so a person can follow along.
fn step(fast: bool, what: &str) {
    if !fast {
        std::thread::sleep(Duration::from_millis(600));
    }
    println!("\n-- {what}");
}

fn main() -> Result<(), Box<dyn Error>> {
    let fast = std::env::args().any(|a| a == "--fast");
    let started = Instant::now();
    let server = EmbeddedServer::start_blocking(ServerConfig {
        secret: SECRET.into(),
        ..ServerConfig::default()
    })?;
    println!(
        "otc-session {} demo: embedded server at {}",
        text(otc_version()),
        server.http_url()
    );

    let rest = Rest::new(&server.http_url());
    let session_id = rest.create_session()?;
    let ana_token = rest.create_token(&session_id, "MODERATOR", "role=moderator")?;
    let ben_token = rest.create_token(&session_id, "PUBLISHER", "role=publisher")?;
    let cho_token = rest.create_token(&session_id, "PUBLISHER", "role=publisher")?;
    println!("REST: created session {session_id} and 3 tokens\n");

    step(fast, "Ana (moderator), Ben and Cho join");
    let ana = join("ana", &session_id, &ana_token, started)?;
    let ben = join("ben", &session_id, &ben_token, started)?;
    ana.client
        .wait_for(&format!("connection_created {}", id_of(&ben)))?;
    let cho = join("cho", &session_id, &cho_token, started)?;
    ana.client
        .wait_for(&format!("connection_created {}", id_of(&cho)))?;
    ben.client
        .wait_for(&format!("connection_created {}", id_of(&cho)))?;

    step(fast, "Ben signals everyone (the sender included, as in OpenVidu)");
    signal(&ben, "chat", "hello from ben")?;
    for p in [&ana, &ben, &cho] {
        p.client.wait_for("signal [chat] \"hello from ben\"")?;
    }

    step(fast, "Ana whispers to Cho only");
    let cho_id = id_of(&cho);
    signal_to(&ana, &cho_id, "whisper", "for cho only")?;
    cho.client.wait_for("signal [whisper]")?;

    step(fast, "The backend signals everyone over REST (no sender)");
    rest.broadcast(&session_id, "news", "the server speaks")?;
    for p in [&ana, &ben, &cho] {
        p.client.wait_for("signal [news]")?;
    }

    let ben_id = id_of(&ben);
    step(fast, "Ana force-disconnects Ben");
    kick(&ana, &ben_id)?;
    ben.client.wait_for("disconnected")?;
    cho.client
        .wait_for(&format!("connection_dropped {ben_id}"))?;

    step(fast, "Cho leaves, then Ana");
    leave(&cho)?;
    ana.client
        .wait_for(&format!("connection_dropped {cho_id}"))?;
    leave(&ana)?;

    step(fast, "Deleting the sessions: each release hook runs once, last");
    for p in [ana, ben, cho] {
        otc_session_delete(p.session); // the release hook (printed) frees the Client
    }
    server.shutdown_blocking();
    println!("\ndone in {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}
