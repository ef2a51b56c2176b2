//! Prometheus metrics, served at `GET /metrics`.
//!
//! A fixed set of counters per server instance: recording is an atomic add on the calling
//! thread's own stripe ([`crate::striped`]) with no allocation, hashing or registry lookup on the
//! verification hot path, and two servers in one process (as in tests) never share counts.
//! Rendering writes the Prometheus text format by hand — it is a few lines, where a metrics
//! facade would add a global registry.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use keyward_core::cache::CacheStats;
use keyward_core::group_commit::GroupStats;
use keyward_core::striped::Striped;
use keyward_core::verify::VerifyStats;
use keyward_types::keys::VerifyCode;

/// Upper bounds of the latency histogram buckets, in microseconds.
const LATENCY_BUCKETS_MICROS: [u64; 12] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 100_000, 1_000_000, 10_000_000,
];

/// A cache statistic: metric name suffix, help text, and how to read it.
type CacheMetric = (&'static str, &'static str, fn(&CacheStats) -> u64);

/// One thread's counts for one route.
#[derive(Default)]
struct RouteCounts {
    /// Responses by status class: index 0 = 1xx … 4 = 5xx.
    by_class: [AtomicU64; 5],
    buckets: [AtomicU64; LATENCY_BUCKETS_MICROS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

#[derive(Default)]
pub struct RouteStats(Striped<RouteCounts>);

pub struct Metrics {
    /// Sorted by path: found by binary search, cheaper than hashing the path of every request.
    routes: Vec<(String, RouteStats)>,
    unmatched: RouteStats,
}

impl Metrics {
    /// Metrics for a server answering `routes` (paths as the router knows them).
    pub fn new<'a>(routes: impl IntoIterator<Item = &'a str>) -> Self {
        let mut routes: Vec<(String, RouteStats)> = routes
            .into_iter()
            .map(|r| (r.to_owned(), RouteStats::default()))
            .collect();
        routes.sort_by(|a, b| a.0.cmp(&b.0));
        routes.dedup_by(|a, b| a.0 == b.0);
        Metrics {
            routes,
            unmatched: RouteStats::default(),
        }
    }

    fn route(&self, path: &str) -> Option<&(String, RouteStats)> {
        self.routes
            .binary_search_by(|(route, _)| route.as_str().cmp(path))
            .ok()
            .map(|i| &self.routes[i])
    }

    /// The route `path` belongs to, as named in the metrics ("unmatched" for unknown paths).
    pub fn route_name<'a>(&'a self, path: &str) -> &'a str {
        self.route(path)
            .map_or("unmatched", |(route, _)| route.as_str())
    }

    /// The statistics of the route `path` belongs to (looked up once per request).
    pub fn route_stats(&self, path: &str) -> &RouteStats {
        self.route(path).map_or(&self.unmatched, |(_, stats)| stats)
    }

    pub fn record_route(&self, stats: &RouteStats, status: u16, elapsed: Duration) {
        let stats = stats.0.local();
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        stats.by_class[class].fetch_add(1, Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        if let Some(i) = LATENCY_BUCKETS_MICROS
            .iter()
            .position(|&bound| micros <= bound)
        {
            stats.buckets[i].fetch_add(1, Relaxed);
        }
        stats.count.fetch_add(1, Relaxed);
        stats.sum_micros.fetch_add(micros, Relaxed);
    }

    /// The Prometheus text exposition of every metric, with the verification outcomes and the
    /// caches' statistics.
    pub fn render(&self, verifications: &VerifyStats, caches: &[(&str, CacheStats)]) -> String {
        let mut out = String::with_capacity(8 * 1024);
        let mut routes: Vec<(&str, &RouteStats)> =
            self.routes.iter().map(|(r, s)| (r.as_str(), s)).collect();
        routes.push(("unmatched", &self.unmatched));

        out.push_str("# HELP keyward_http_requests_total HTTP requests answered, by route and status class.\n");
        out.push_str("# TYPE keyward_http_requests_total counter\n");
        for (route, stats) in &routes {
            for i in 0..5 {
                let n = stats.0.sum(|c| &c.by_class[i]);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "keyward_http_requests_total{{route=\"{route}\",status=\"{}xx\"}} {n}",
                        i + 1
                    );
                }
            }
        }

        out.push_str(
            "# HELP keyward_http_request_duration_seconds Time to answer HTTP requests.\n",
        );
        out.push_str("# TYPE keyward_http_request_duration_seconds histogram\n");
        for (route, stats) in &routes {
            let count = stats.0.sum(|c| &c.count);
            if count == 0 {
                continue;
            }
            let mut cumulative = 0;
            for (i, bound) in LATENCY_BUCKETS_MICROS.iter().enumerate() {
                cumulative += stats.0.sum(|c| &c.buckets[i]);
                let _ = writeln!(
                    out,
                    "keyward_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{}\"}} {cumulative}",
                    *bound as f64 / 1e6
                );
            }
            let _ = writeln!(
                out,
                "keyward_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "keyward_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                stats.0.sum(|c| &c.sum_micros) as f64 / 1e6
            );
            let _ = writeln!(
                out,
                "keyward_http_request_duration_seconds_count{{route=\"{route}\"}} {count}"
            );
        }

        out.push_str("# HELP keyward_verifications_total Key verifications, by outcome code.\n");
        out.push_str("# TYPE keyward_verifications_total counter\n");
        for code in VerifyCode::ALL {
            let n = verifications.count(code);
            let _ = writeln!(
                out,
                "keyward_verifications_total{{code=\"{}\"}} {n}",
                code.as_str(),
            );
        }

        let fields: [CacheMetric; 6] = [
            (
                "hits_total",
                "Lookups answered from the cache.",
                |s: &CacheStats| s.hits,
            ),
            (
                "misses_total",
                "Lookups that had to wait for a database load.",
                |s: &CacheStats| s.misses,
            ),
            (
                "loads_total",
                "Database loads started by the cache.",
                |s: &CacheStats| s.loads,
            ),
            (
                "refreshes_total",
                "Background refreshes of stale entries (answered from the cache meanwhile).",
                |s: &CacheStats| s.refreshes,
            ),
            ("entries", "Values currently cached.", |s: &CacheStats| {
                s.entries
            }),
            (
                "absent_entries",
                "Hashes remembered as matching nothing, bounded apart from the values so that unknown keys cannot evict them.",
                |s: &CacheStats| s.absent,
            ),
        ];
        for (name, help, value) in fields {
            let kind = if name.ends_with("entries") {
                "gauge"
            } else {
                "counter"
            };
            let _ = writeln!(out, "# HELP keyward_cache_{name} {help}");
            let _ = writeln!(out, "# TYPE keyward_cache_{name} {kind}");
            for (cache, stats) in caches {
                let _ = writeln!(
                    out,
                    "keyward_cache_{name}{{cache=\"{cache}\"}} {}",
                    value(stats)
                );
            }
        }
        out
    }
}

/// The invalidation channel of a node ([`keyward_core::nodes`]): its state as a gauge per state
/// (1 for the current one), the losses since the start, and the lookups that bypassed the caches
/// while it was lost.
pub fn render_invalidation(out: &mut String, keyward: &keyward_core::Keyward) {
    use keyward_types::liveness::InvalidationState;
    let state = keyward.nodes.state();
    out.push_str("# HELP keyward_invalidation_state Whether this node hears the other nodes' invalidations: 1 for its current state (local: SQLite; subscribed; degraded: lost, caches bypassed).\n");
    out.push_str("# TYPE keyward_invalidation_state gauge\n");
    for each in [
        InvalidationState::Local,
        InvalidationState::Subscribed,
        InvalidationState::Degraded,
    ] {
        let _ = writeln!(
            out,
            "keyward_invalidation_state{{state=\"{}\"}} {}",
            each.as_str(),
            u8::from(each == state)
        );
    }
    out.push_str("# HELP keyward_invalidation_losses_total Times this node lost its invalidation channel (and bypassed its caches until it was restored).\n");
    out.push_str("# TYPE keyward_invalidation_losses_total counter\n");
    let _ = writeln!(
        out,
        "keyward_invalidation_losses_total {}",
        keyward.nodes.losses()
    );
    out.push_str("# HELP keyward_cache_bypassed_total Lookups that read the database past the cache while the invalidation channel was lost.\n");
    out.push_str("# TYPE keyward_cache_bypassed_total counter\n");
    for (cache, stats) in keyward.cache_stats() {
        let _ = writeln!(
            out,
            "keyward_cache_bypassed_total{{cache=\"{cache}\"}} {}",
            stats.bypassed
        );
    }
}

/// The rate limiter's lines: decisions per namespace (by id) and of verifications' limits, and
/// the counters held.
pub fn render_ratelimits(out: &mut String, limiter: &keyward_core::ratelimit::Limiter) {
    out.push_str("# HELP keyward_ratelimit_decisions_total ratelimit.limit and ratelimit.multiLimit checks, by namespace id and outcome.\n");
    out.push_str("# TYPE keyward_ratelimit_decisions_total counter\n");
    for (namespace, admitted, rejected) in limiter.namespaces.counts() {
        let _ = writeln!(
            out,
            "keyward_ratelimit_decisions_total{{namespace=\"{namespace}\",outcome=\"admitted\"}} {admitted}"
        );
        let _ = writeln!(
            out,
            "keyward_ratelimit_decisions_total{{namespace=\"{namespace}\",outcome=\"rejected\"}} {rejected}"
        );
    }
    let (admitted, rejected) = limiter.key_limits.counts();
    out.push_str("# HELP keyward_key_ratelimit_decisions_total keys.verifyKey calls with rate limits, by outcome of their limits.\n");
    out.push_str("# TYPE keyward_key_ratelimit_decisions_total counter\n");
    let _ = writeln!(
        out,
        "keyward_key_ratelimit_decisions_total{{outcome=\"admitted\"}} {admitted}"
    );
    let _ = writeln!(
        out,
        "keyward_key_ratelimit_decisions_total{{outcome=\"rejected\"}} {rejected}"
    );
    out.push_str(
        "# HELP keyward_ratelimit_counters Identifiers the rate limiter holds counts of.\n",
    );
    out.push_str("# TYPE keyward_ratelimit_counters gauge\n");
    let _ = writeln!(
        out,
        "keyward_ratelimit_counters {}",
        limiter.counters().len()
    );
}

/// Appends the group commits' counters ([`keyward_core::group_commit`]): batches committed and
/// the requests they held, whose ratio is the mean batch size.
pub fn render_group_commits(out: &mut String, stats: &[(&str, &GroupStats)]) {
    for (name, help, value) in [
        (
            "batches_total",
            "Transactions committed by a group commit, by kind of request.",
            (|s: &GroupStats| s.batches.load(Relaxed)) as fn(&GroupStats) -> u64,
        ),
        (
            "requests_total",
            "Requests committed by a group commit, by kind (divided by batches: the mean batch size).",
            |s: &GroupStats| s.requests.load(Relaxed),
        ),
    ] {
        let _ = writeln!(out, "# HELP keyward_group_commit_{name} {help}");
        let _ = writeln!(out, "# TYPE keyward_group_commit_{name} counter");
        for (kind, stats) in stats {
            let _ = writeln!(
                out,
                "keyward_group_commit_{name}{{kind=\"{kind}\"}} {}",
                value(stats)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_histograms() {
        let m = Metrics::new(["/v2/keys.verifyKey"]);
        let record = |path, status, micros| {
            m.record_route(m.route_stats(path), status, Duration::from_micros(micros))
        };
        record("/v2/keys.verifyKey", 200, 80);
        record("/v2/keys.verifyKey", 404, 3000);
        record("/nope", 404, 10);
        let verifications = VerifyStats::default();
        verifications.record(VerifyCode::Valid);
        let text = m.render(
            &verifications,
            &[(
                "keys",
                CacheStats {
                    hits: 3,
                    misses: 1,
                    loads: 1,
                    refreshes: 0,
                    entries: 1,
                    absent: 2,
                    bypassed: 0,
                },
            )],
        );
        assert!(text.contains(
            "keyward_http_requests_total{route=\"/v2/keys.verifyKey\",status=\"2xx\"} 1"
        ));
        assert!(text.contains(
            "keyward_http_requests_total{route=\"/v2/keys.verifyKey\",status=\"4xx\"} 1"
        ));
        assert!(text.contains("keyward_http_requests_total{route=\"unmatched\",status=\"4xx\"} 1"));
        assert!(text.contains("keyward_http_request_duration_seconds_bucket{route=\"/v2/keys.verifyKey\",le=\"0.0001\"} 1"));
        assert!(text.contains("keyward_http_request_duration_seconds_bucket{route=\"/v2/keys.verifyKey\",le=\"+Inf\"} 2"));
        assert!(text.contains("keyward_verifications_total{code=\"VALID\"} 1"));
        assert!(text.contains("keyward_cache_hits_total{cache=\"keys\"} 3"));
        assert!(text.contains("# TYPE keyward_cache_absent_entries gauge"));
        assert!(text.contains("keyward_cache_absent_entries{cache=\"keys\"} 2"));
    }
}
