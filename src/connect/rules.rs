//! The connector's decisions, as pure functions over plain facts: which
//! transport next, which host next, when to stop trying (a [`Search`] over
//! the hosts, fed how each attempt went), whether a session fits
//! `target_session_attrs`, whether a load may run in it, and whether to ask
//! for a password. No I/O and no client types: the connector (`super`) makes
//! the attempts, reads their outcomes into a [`Failure`] or a
//! [`SessionState`] (`super::failure`), and does what the rules say.
//!
//! The rules are libpq's, as its documentation states them ("Specifying
//! Multiple Hosts", `sslmode`, `target_session_attrs`, `load_balance_hosts`)
//! and `fe-connect.c` (PostgreSQL 18) does them; the password retry is psql's
//! (`startup.c`). The tests below name the rule each one checks.
//!
//! Where fkload is knowingly more lenient than `fe-connect.c` (the
//! documentation says only that a failed *authentication* ends the search):
//! a server error that is not a failed login (SQLSTATE class 28), such as a
//! database that does not exist or too many connections, and a TLS handshake
//! that fails in the last transport `sslmode` allows, give way to the next
//! host, where libpq gives up (it moves on only for 57P03, cannot connect
//! now); and any server error is asked again in the other transport of
//! `allow` or `prefer`, where libpq does so only for errors during
//! authentication. Hosts are always tried in the order given:
//! `load_balance_hosts=random` is refused when the settings are read
//! (`conninfo`).
//!
//! One rule is fkload's own: a load never runs in a standby or a read-only
//! session ([`loadable`]). Without `target_session_attrs` a load looks for a
//! writable host (`read-write`, [`wanted`]); with it, libpq's choice of host
//! stands, and a session a load may not run in ends the search.

use crate::connect::conninfo::SessionAttrs;
use crate::connect::tls::{SslMode, Transport, attempts as transports};

/// What the sessions of a connector are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// A load (or a check, or a repair): it writes.
    Load,
    /// A plan or a graph: it only reads, and a standby will do.
    Read,
}

/// Which sessions the search accepts: `target_session_attrs` when it was
/// given (`given`), else a writable session for a load and any for reading
/// (libpq's default is `any`).
pub(crate) fn wanted(given: Option<SessionAttrs>, purpose: Purpose) -> SessionAttrs {
    given.unwrap_or(match purpose {
        Purpose::Load => SessionAttrs::ReadWrite,
        Purpose::Read => SessionAttrs::Any,
    })
}

/// The passes over the hosts `attrs` makes: `prefer-standby` "first try to
/// find a standby server, but if none of the listed hosts is a standby
/// server, try again in `any` mode"; every other value makes one pass.
fn passes(attrs: SessionAttrs) -> &'static [SessionAttrs] {
    use SessionAttrs::{Any, Primary, ReadOnly, ReadWrite, Standby};
    match attrs {
        SessionAttrs::PreferStandby => &[Standby, Any],
        Any => &[Any],
        ReadWrite => &[ReadWrite],
        ReadOnly => &[ReadOnly],
        Primary => &[Primary],
        Standby => &[Standby],
    }
}

/// What the rules need of a new session, as the server says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct SessionState {
    /// `pg_is_in_recovery()`: a (hot) standby.
    pub(crate) in_recovery: bool,
    /// `transaction_read_only`: the session does not accept writes by
    /// default (a standby, or `default_transaction_read_only` on).
    pub(crate) read_only: bool,
}

/// Why a session does not fit: data of the connection errors, so it is
/// the error module's.
pub(crate) use crate::error::Misfit;

/// Whether a session fits `attrs` (libpq's `CONNECTION_CHECK_TARGET`).
/// `prefer-standby` is judged as its first pass (a standby), as libpq does;
/// its second pass is `any`.
pub(crate) fn fits(attrs: SessionAttrs, s: SessionState) -> Result<(), Misfit> {
    match attrs {
        SessionAttrs::Any => Ok(()),
        SessionAttrs::ReadWrite => loadable(s),
        SessionAttrs::ReadOnly if !s.read_only && !s.in_recovery => Err(Misfit::NotReadOnly),
        SessionAttrs::Primary if s.in_recovery => Err(Misfit::HotStandby),
        SessionAttrs::Standby | SessionAttrs::PreferStandby if !s.in_recovery => {
            Err(Misfit::NotHotStandby)
        }
        SessionAttrs::ReadOnly
        | SessionAttrs::Primary
        | SessionAttrs::Standby
        | SessionAttrs::PreferStandby => Ok(()),
    }
}

/// Whether a load may run in a session: not on a standby, not in a
/// read-only session (libpq's `read-write`).
pub(crate) fn loadable(s: SessionState) -> Result<(), Misfit> {
    if s.in_recovery {
        Err(Misfit::Standby)
    } else if s.read_only {
        Err(Misfit::ReadOnly)
    } else {
        Ok(())
    }
}

/// How an attempt (one host, one transport) failed, as the rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Nothing answered: refused, unreachable, timed out, or closed before
    /// the server said anything.
    NoAnswer,
    /// The TLS handshake failed: the server has no TLS, or its certificate
    /// did not verify.
    Tls,
    /// The server refused the session with an error; `login` when it was a
    /// failed authentication (SQLSTATE class 28).
    Refused { login: bool },
    /// The server asked for a password and the settings had none (libpq's
    /// `PQconnectionNeedsPassword`).
    PasswordNeeded,
}

/// One attempt to make: host `host` (its index in the settings) in
/// `transport`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Attempt {
    pub(crate) host: usize,
    pub(crate) transport: Transport,
    /// The host's earlier transport failed, and this one is tried instead.
    pub(crate) fallback: bool,
}

/// What the connector does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    Try(Attempt),
    GiveUp(Ending),
}

/// Why a search ended without a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Every host was tried (in every pass), and none gave a session that
    /// fits.
    Exhausted,
    /// A login failed: libpq tries no further host.
    LoginFailed,
    /// The server asked for a password the settings lack: libpq tries no
    /// further host (and psql may ask for one, see [`Prompting`]).
    PasswordNeeded,
    /// `target_session_attrs` let through a session a load may not run in.
    NotLoadable,
}

/// libpq's host loop as a state machine: the passes `target_session_attrs`
/// makes, in each the hosts in order, and for each host the transports its
/// `sslmode` allows. Start with [`Search::start`], then report each
/// attempt with [`Search::failed`] or [`Search::connected`], which say what
/// to do next, until a session is kept or the search gives up. At most
/// `passes × hosts × 2` attempts.
#[derive(Debug, Clone)]
pub(crate) struct Search {
    /// Per host: whether it is a Unix socket directory.
    sockets: Vec<bool>,
    mode: SslMode,
    passes: &'static [SessionAttrs],
    purpose: Purpose,
    /// Where the search is: the pass, the host, and the transport (an index
    /// into the host's transports).
    pass: usize,
    host: usize,
    transport: usize,
}

impl Search {
    /// A search over hosts of which `sockets` says which are sockets, in
    /// `mode`, for sessions that fit `attrs` (see [`wanted`]), for
    /// `purpose`.
    pub(crate) fn new(
        sockets: Vec<bool>,
        mode: SslMode,
        attrs: SessionAttrs,
        purpose: Purpose,
    ) -> Search {
        Search {
            sockets,
            mode,
            passes: passes(attrs),
            purpose,
            pass: 0,
            host: 0,
            transport: 0,
        }
    }

    /// The first attempt (none without a host).
    pub(crate) fn start(&self) -> Next {
        self.here()
    }

    /// The attempt [`Search::start`] or the last call gave failed so.
    pub(crate) fn failed(&mut self, failure: Failure) -> Next {
        match failure {
            // libpq (pg_fe_sendauth fails): error_return, no other
            // transport, no other host.
            Failure::PasswordNeeded => Next::GiveUp(Ending::PasswordNeeded),
            // libpq: a connection that cannot be made moves on to the next
            // address or host, not to the other transport.
            Failure::NoAnswer => self.next_host(),
            Failure::Tls | Failure::Refused { .. } => match self.other_transport() {
                Some(next) => next,
                None if failure == (Failure::Refused { login: true }) => {
                    Next::GiveUp(Ending::LoginFailed)
                }
                None => self.next_host(),
            },
        }
    }

    /// The attempt [`Search::start`] or the last call gave connected, to a
    /// session in state `s`: `Ok` to keep it, or why not and what next (a
    /// session that does not fit gives way to the next host, "but we don't
    /// want to consider additional addresses for this host").
    pub(crate) fn connected(&mut self, s: SessionState) -> Result<(), (Misfit, Next)> {
        fits(self.passes[self.pass], s).map_err(|misfit| (misfit, self.next_host()))?;
        match self.purpose {
            Purpose::Load => {
                loadable(s).map_err(|misfit| (misfit, Next::GiveUp(Ending::NotLoadable)))
            }
            Purpose::Read => Ok(()),
        }
    }

    /// The attempt the search is at, or the end when no host is left.
    fn here(&self) -> Next {
        let Some(&socket) = self.sockets.get(self.host) else {
            return Next::GiveUp(Ending::Exhausted);
        };
        match transports(self.mode, socket).get(self.transport) {
            Some(&transport) => Next::Try(Attempt {
                host: self.host,
                transport,
                fallback: self.transport > 0,
            }),
            None => Next::GiveUp(Ending::Exhausted),
        }
    }

    /// The same host's next transport, if its `sslmode` allows one more.
    fn other_transport(&mut self) -> Option<Next> {
        let socket = *self.sockets.get(self.host)?;
        if self.transport + 1 < transports(self.mode, socket).len() {
            self.transport += 1;
            Some(self.here())
        } else {
            None
        }
    }

    /// The next host; after the last, the next pass from the first host
    /// (`prefer-standby`), else the end.
    fn next_host(&mut self) -> Next {
        self.transport = 0;
        if self.host + 1 < self.sockets.len() {
            self.host += 1;
        } else if self.pass + 1 < self.passes.len() {
            self.pass += 1;
            self.host = 0;
        } else {
            self.host = self.sockets.len();
        }
        self.here()
    }
}

/// When a password is asked for, as psql's `-W` and `-w` say (`startup.c`):
/// with `-W` before connecting; otherwise once, when the connection failed
/// because the server asked for a password and none was given
/// (`PQconnectionNeedsPassword`), if no password was asked for yet and
/// someone can answer (not `-w`; fkload also wants a terminal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Prompting {
    /// `-W`: ask before the first attempt.
    pub(crate) first: bool,
    /// Neither `-w` nor a missing terminal forbids asking.
    pub(crate) may_ask: bool,
}

impl Prompting {
    /// Whether to ask before the first attempt.
    pub(crate) fn before(self) -> bool {
        self.first
    }

    /// Whether to ask, and try again, after a search that ended so;
    /// `asked` when a password was asked for already.
    pub(crate) fn after(self, ending: Ending, asked: bool) -> bool {
        ending == Ending::PasswordNeeded && !asked && self.may_ask
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SessionAttrs::{Any, PreferStandby, Primary, ReadOnly, ReadWrite, Standby};
    use Transport::{Plain, Tls};
    use proptest::prelude::*;

    const MODES: [SslMode; 6] = [
        SslMode::Disable,
        SslMode::Allow,
        SslMode::Prefer,
        SslMode::Require,
        SslMode::VerifyCa,
        SslMode::VerifyFull,
    ];
    const ATTRS: [SessionAttrs; 6] = [Any, ReadWrite, ReadOnly, Primary, Standby, PreferStandby];
    const PRIMARY: SessionState = SessionState {
        in_recovery: false,
        read_only: false,
    };
    const READ_ONLY_PRIMARY: SessionState = SessionState {
        in_recovery: false,
        read_only: true,
    };
    const STANDBY: SessionState = SessionState {
        in_recovery: true,
        read_only: true,
    };

    /// libpq, `target_session_attrs`: "any: any successful connection is
    /// acceptable; read-write: session must accept read-write transactions
    /// by default (that is, the server must not be in hot standby mode and
    /// the default_transaction_read_only parameter must be off); read-only:
    /// session must not accept read-write transactions by default (the
    /// converse); primary: server must not be in hot standby mode; standby:
    /// server must be in hot standby mode". A primary made read-only by
    /// `default_transaction_read_only` is read-only, and still a primary.
    #[test]
    fn sessions_fit_target_session_attrs_as_libpq_documents() {
        let cases = [
            (Any, [Ok(()), Ok(()), Ok(())]),
            (
                ReadWrite,
                [Ok(()), Err(Misfit::ReadOnly), Err(Misfit::Standby)],
            ),
            (ReadOnly, [Err(Misfit::NotReadOnly), Ok(()), Ok(())]),
            (Primary, [Ok(()), Ok(()), Err(Misfit::HotStandby)]),
            (
                Standby,
                [
                    Err(Misfit::NotHotStandby),
                    Err(Misfit::NotHotStandby),
                    Ok(()),
                ],
            ),
        ];
        for (attrs, expected) in cases {
            let got = [PRIMARY, READ_ONLY_PRIMARY, STANDBY].map(|s| fits(attrs, s));
            assert_eq!(got, expected, "{attrs:?}");
        }
    }

    /// The messages fkload has always given (the integration tests grep
    /// for "in recovery").
    #[test]
    fn misfits_say_what_they_always_said() {
        assert_eq!(
            Misfit::Standby.to_string(),
            "the server is in recovery (a standby)"
        );
        assert_eq!(
            loadable(READ_ONLY_PRIMARY).map_err(Misfit::text),
            Err("the session is read-only (default_transaction_read_only is on)")
        );
        assert_eq!(loadable(PRIMARY), Ok(()));
    }

    /// libpq's default is `any`; fkload's load without the setting wants
    /// `read-write` (README: "Without it a load takes the first host that
    /// accepts writes"); a given value always stands.
    #[test]
    fn what_a_search_wants() {
        assert_eq!(wanted(None, Purpose::Read), Any);
        assert_eq!(wanted(None, Purpose::Load), ReadWrite);
        for attrs in ATTRS {
            assert_eq!(wanted(Some(attrs), Purpose::Load), attrs);
            assert_eq!(wanted(Some(attrs), Purpose::Read), attrs);
        }
    }

    /// psql's `startup.c`: the prompt comes once at most, only after
    /// `PQconnectionNeedsPassword`, never with `-w`; `-W` asks first.
    #[test]
    fn a_password_is_asked_for_once_when_the_server_wants_one() {
        let ask = Prompting {
            first: false,
            may_ask: true,
        };
        assert!(!ask.before());
        assert!(ask.after(Ending::PasswordNeeded, false));
        assert!(!ask.after(Ending::PasswordNeeded, true), "only once");
        for other in [Ending::Exhausted, Ending::LoginFailed, Ending::NotLoadable] {
            assert!(!ask.after(other, false), "{other:?}");
        }
        let never = Prompting {
            first: false,
            may_ask: false,
        };
        assert!(!never.after(Ending::PasswordNeeded, false), "-w");
        let w = Prompting {
            first: true,
            may_ask: true,
        };
        assert!(w.before());
        assert!(!w.after(Ending::PasswordNeeded, true), "-W asked already");
    }

    /// Runs a search against `world` (what each host does in each
    /// transport) and returns the attempts made and how it ended: `Ok(host)`
    /// when a session of that host was kept.
    fn run(
        mut search: Search,
        world: &dyn Fn(Attempt) -> Result<SessionState, Failure>,
    ) -> (Vec<Attempt>, Result<usize, Ending>) {
        let mut tried = Vec::new();
        let mut next = search.start();
        while let Next::Try(a) = next {
            assert!(tried.len() < 100, "the search does not end: {tried:?}");
            tried.push(a);
            next = match world(a) {
                Ok(state) => match search.connected(state) {
                    Ok(()) => return (tried, Ok(a.host)),
                    Err((_, next)) => next,
                },
                Err(failure) => search.failed(failure),
            };
        }
        let Next::GiveUp(ending) = next else {
            unreachable!()
        };
        (tried, Err(ending))
    }

    fn tcp(hosts: usize, mode: SslMode, attrs: SessionAttrs, purpose: Purpose) -> Search {
        Search::new(vec![false; hosts], mode, attrs, purpose)
    }

    /// libpq, "Specifying Multiple Hosts": "all the hosts and addresses will
    /// be tried in order, until one succeeds. If none of the hosts can be
    /// reached, the connection fails."
    #[test]
    fn hosts_are_tried_in_order_until_one_answers() {
        let search = tcp(3, SslMode::Disable, Any, Purpose::Read);
        let (tried, end) = run(search.clone(), &|a| {
            if a.host == 2 {
                Ok(PRIMARY)
            } else {
                Err(Failure::NoAnswer)
            }
        });
        assert_eq!(tried.iter().map(|a| a.host).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(end, Ok(2));
        let (tried, end) = run(search, &|_| Err(Failure::NoAnswer));
        assert_eq!(tried.len(), 3);
        assert_eq!(end, Err(Ending::Exhausted));
    }

    /// libpq, "Specifying Multiple Hosts": "If a connection is established
    /// successfully, but authentication fails, the remaining hosts in the
    /// list are not tried." With `prefer`, the failed login in TLS is asked
    /// again in plain text first (`fe-connect.c`: CONNECTION_FAILED on an
    /// ErrorResponse during authentication).
    #[test]
    fn a_failed_login_ends_the_search() {
        let (tried, end) = run(tcp(3, SslMode::Prefer, Any, Purpose::Read), &|_| {
            Err(Failure::Refused { login: true })
        });
        let at: Vec<_> = tried.iter().map(|a| (a.host, a.transport)).collect();
        assert_eq!(at, [(0, Tls), (0, Plain)]);
        assert_eq!(end, Err(Ending::LoginFailed));
    }

    /// libpq (`pg_fe_sendauth` fails, then `error_return`): a password the
    /// server asks for and the settings lack ends the search at once, in no
    /// other transport and at no other host; psql then asks for one.
    #[test]
    fn a_missing_password_ends_the_search_at_once() {
        let (tried, end) = run(tcp(2, SslMode::Prefer, Any, Purpose::Read), &|_| {
            Err(Failure::PasswordNeeded)
        });
        assert_eq!(tried.len(), 1);
        assert_eq!(end, Err(Ending::PasswordNeeded));
    }

    /// libpq, `sslmode=prefer`: "first try an SSL connection; if that fails,
    /// try a non-SSL connection", on the same host before the next one;
    /// `allow` the other way round.
    #[test]
    fn allow_and_prefer_ask_the_same_host_again_in_the_other_transport() {
        let (tried, end) = run(tcp(2, SslMode::Prefer, Any, Purpose::Read), &|a| {
            if a.transport == Tls {
                Err(Failure::Tls)
            } else {
                Ok(PRIMARY)
            }
        });
        assert_eq!(
            tried,
            [
                Attempt {
                    host: 0,
                    transport: Tls,
                    fallback: false
                },
                Attempt {
                    host: 0,
                    transport: Plain,
                    fallback: true
                }
            ]
        );
        assert_eq!(end, Ok(0));
        let (tried, _) = run(tcp(1, SslMode::Allow, Any, Purpose::Read), &|a| {
            if a.transport == Plain {
                Err(Failure::Refused { login: false })
            } else {
                Ok(PRIMARY)
            }
        });
        let at: Vec<_> = tried.iter().map(|a| a.transport).collect();
        assert_eq!(at, [Plain, Tls]);
    }

    /// libpq, `target_session_attrs`: "to select the first acceptable
    /// alternative among several hosts"; a host whose session does not fit
    /// gives way to the next (`fe-connect.c`: "Try next host if any").
    #[test]
    fn the_first_host_that_fits_is_kept() {
        let states = [STANDBY, READ_ONLY_PRIMARY, PRIMARY];
        let world = |a: Attempt| Ok(states[a.host]);
        let expected = [
            (Any, Ok(0)),
            (ReadWrite, Ok(2)),
            (ReadOnly, Ok(0)),
            (Primary, Ok(1)),
            (Standby, Ok(0)),
        ];
        for (attrs, host) in expected {
            let (_, end) = run(tcp(3, SslMode::Disable, attrs, Purpose::Read), &world);
            assert_eq!(end, host, "{attrs:?}");
        }
        let (_, end) = run(tcp(2, SslMode::Disable, Standby, Purpose::Read), &|_| {
            Ok(PRIMARY)
        });
        assert_eq!(end, Err(Ending::Exhausted));
    }

    /// libpq, `prefer-standby`: "first try to find a standby server, but if
    /// none of the listed hosts is a standby server, try again in any mode"
    /// (`fe-connect.c`: the second pass starts over at the first host).
    #[test]
    fn prefer_standby_makes_a_second_pass_in_any_mode() {
        let (tried, end) = run(
            tcp(2, SslMode::Disable, PreferStandby, Purpose::Read),
            &|_| Ok(PRIMARY),
        );
        assert_eq!(tried.iter().map(|a| a.host).collect::<Vec<_>>(), [0, 1, 0]);
        assert_eq!(end, Ok(0));
        let (tried, end) = run(
            tcp(2, SslMode::Disable, PreferStandby, Purpose::Read),
            &|a| Ok([PRIMARY, STANDBY][a.host]),
        );
        assert_eq!(tried.len(), 2);
        assert_eq!(end, Ok(1));
    }

    /// README: "Without it [target_session_attrs] a load takes the first host
    /// that accepts writes, and passes over standbys; a load refuses a
    /// standby or a read-only session even when asked for one" (and then
    /// tries no further host: the host libpq chose stands).
    #[test]
    fn a_load_passes_over_standbys_and_refuses_one_it_was_given() {
        let world = |a: Attempt| Ok([STANDBY, PRIMARY][a.host]);
        let (_, end) = run(
            tcp(
                2,
                SslMode::Disable,
                wanted(None, Purpose::Load),
                Purpose::Load,
            ),
            &world,
        );
        assert_eq!(end, Ok(1));
        for attrs in [Any, Standby, ReadOnly, PreferStandby] {
            let (tried, end) = run(tcp(2, SslMode::Disable, attrs, Purpose::Load), &world);
            assert_eq!(
                (tried.len(), end),
                (1, Err(Ending::NotLoadable)),
                "{attrs:?}"
            );
        }
        let (_, end) = run(tcp(2, SslMode::Disable, Any, Purpose::Read), &world);
        assert_eq!(end, Ok(0), "a plan takes the standby");
    }

    /// What a host does in each transport, for the property tests.
    #[derive(Debug, Clone, Copy)]
    enum Does {
        Fail(Failure),
        Connect(SessionState),
    }

    fn does() -> impl Strategy<Value = Does> {
        prop_oneof![
            Just(Does::Fail(Failure::NoAnswer)),
            Just(Does::Fail(Failure::Tls)),
            any::<bool>().prop_map(|login| Does::Fail(Failure::Refused { login })),
            Just(Does::Fail(Failure::PasswordNeeded)),
            (any::<bool>(), any::<bool>()).prop_map(|(in_recovery, ro)| {
                Does::Connect(SessionState {
                    in_recovery,
                    read_only: ro || in_recovery,
                })
            }),
        ]
    }

    /// The rules read the simplest way: nested loops over passes, hosts and
    /// transports (as fkload's connector was written before the state
    /// machine), returning the same trace.
    fn reference(
        sockets: &[bool],
        mode: SslMode,
        attrs: SessionAttrs,
        purpose: Purpose,
        world: &dyn Fn(Attempt) -> Result<SessionState, Failure>,
    ) -> (Vec<Attempt>, Result<usize, Ending>) {
        let mut tried = Vec::new();
        for &pass in passes(attrs) {
            for (host, &socket) in sockets.iter().enumerate() {
                let ways = transports(mode, socket);
                for (n, &transport) in ways.iter().enumerate() {
                    let a = Attempt {
                        host,
                        transport,
                        fallback: n > 0,
                    };
                    tried.push(a);
                    let more = n + 1 < ways.len();
                    match world(a) {
                        Ok(s) if fits(pass, s).is_err() => break,
                        Ok(s) if purpose == Purpose::Load && loadable(s).is_err() => {
                            return (tried, Err(Ending::NotLoadable));
                        }
                        Ok(_) => return (tried, Ok(host)),
                        Err(Failure::PasswordNeeded) => {
                            return (tried, Err(Ending::PasswordNeeded));
                        }
                        Err(Failure::NoAnswer) => break,
                        Err(_) if more => continue,
                        Err(Failure::Refused { login: true }) => {
                            return (tried, Err(Ending::LoginFailed));
                        }
                        Err(_) => break,
                    }
                }
            }
        }
        (tried, Err(Ending::Exhausted))
    }

    proptest! {
        /// The state machine makes the attempts the nested loops make and
        /// ends as they end, whatever the hosts do; and the documented rules
        /// hold on every trace: hosts in order within a pass, each host in
        /// its sslmode's transports in order, a socket only in plain text,
        /// at most passes × hosts × 2 attempts, and a kept session fits what
        /// was wanted (never a standby or read-only one for a load).
        #[test]
        fn the_search_is_libpqs_host_loop(
            hosts in prop::collection::vec((any::<bool>(), does(), does()), 1..5),
            mode in prop::sample::select(MODES.to_vec()),
            given in prop::option::of(prop::sample::select(ATTRS.to_vec())),
            load in any::<bool>(),
        ) {
            let purpose = if load { Purpose::Load } else { Purpose::Read };
            let attrs = wanted(given, purpose);
            let sockets: Vec<bool> = hosts.iter().map(|h| h.0).collect();
            let world = |a: Attempt| {
                let h = hosts[a.host];
                match if a.fallback { h.2 } else { h.1 } {
                    Does::Fail(f) => Err(f),
                    Does::Connect(s) => Ok(s),
                }
            };
            let search = Search::new(sockets.clone(), mode, attrs, purpose);
            let (tried, end) = run(search, &world);
            let (expected, expected_end) = reference(&sockets, mode, attrs, purpose, &world);
            prop_assert_eq!(&tried, &expected);
            prop_assert_eq!(end, expected_end);
            prop_assert!(tried.len() <= passes(attrs).len() * hosts.len() * 2);
            for w in tried.windows(2) {
                let same_pass = w[1].host > w[0].host
                    || (w[1].host == w[0].host && w[1].fallback);
                let new_pass = w[1].host == 0 && !w[1].fallback;
                prop_assert!(same_pass || new_pass, "{:?}", w);
            }
            for a in &tried {
                let ways = transports(mode, sockets[a.host]);
                prop_assert_eq!(a.transport, ways[usize::from(a.fallback)]);
            }
            if let Ok(host) = end {
                let a = tried.last().copied().unwrap();
                prop_assert_eq!(a.host, host);
                if let Ok(s) = world(a) {
                    prop_assert!(purpose == Purpose::Read || loadable(s).is_ok());
                    prop_assert!(passes(attrs).iter().any(|&p| fits(p, s).is_ok()));
                }
            }
        }
    }
}
