//! Counters an edge process exposes to its operator, in Prometheus' text format.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Shared by a process's hubs and sockets; cheap to update from any task.
pub struct EdgeMetrics {
    registry: Registry,
    pub store_requests: Counter,
    pub store_errors: Counter,
    pub frames_in: Counter,
    pub frames_out: Counter,
    pub visitor_connections: Gauge,
    pub agent_connections: Gauge,
    /// Sockets closed because their outbox was full (too slow to keep up).
    pub slow_consumers: Counter,
    pub hubs: Gauge,
    /// Sockets refused because their address had too many open.
    pub sockets_refused: Counter,
    /// Sites in the site cache (only sites that exist are cached).
    pub cached_sites: Gauge,
}

impl Default for EdgeMetrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("vitrine");
        let mut counter = |name: &str, help: &str| {
            let c = Counter::default();
            registry.register(name, help, c.clone());
            c
        };
        let store_requests = counter(
            "store_requests",
            "Store requests the hubs made (writes and reads)",
        );
        let store_errors = counter(
            "store_errors",
            "Store requests that failed (the hub retries or reports them)",
        );
        let frames_in = counter("frames_in", "Frames received from browsers");
        let frames_out = counter("frames_out", "Frames sent to browsers");
        let slow_consumers = counter(
            "slow_consumers",
            "Sockets dropped because they could not keep up",
        );
        let sockets_refused = counter(
            "sockets_refused",
            "Sockets refused because their address had too many open",
        );
        let mut gauge = |name: &str, help: &str| {
            let g = Gauge::default();
            registry.register(name, help, g.clone());
            g
        };
        let visitor_connections = gauge("visitor_connections", "Widget sockets open");
        let agent_connections = gauge("agent_connections", "Portal sockets open");
        let hubs = gauge("hubs", "Site hubs running");
        let cached_sites = gauge("cached_sites", "Sites in the site cache (never misses)");
        Self {
            registry,
            store_requests,
            store_errors,
            frames_in,
            frames_out,
            visitor_connections,
            agent_connections,
            slow_consumers,
            hubs,
            sockets_refused,
            cached_sites,
        }
    }
}

impl EdgeMetrics {
    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_counter_with_its_value() {
        let m = EdgeMetrics::default();
        m.store_requests.inc_by(3);
        m.visitor_connections.set(2);
        let text = m.render();
        assert!(text.contains("vitrine_store_requests_total 3"), "{text}");
        assert!(text.contains("vitrine_visitor_connections 2"), "{text}");
        assert!(text.contains("# HELP vitrine_slow_consumers"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
