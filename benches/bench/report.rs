//! The one table the benchmark prints, in Markdown, with the targets of
//! issue 6 and whether each was met.

use std::fmt;
use std::time::Duration;

use crate::daemon::Memory;
use crate::measure::{percentiles, Throughput, Timing};
use crate::session::{SessionCost, Unseen};
use crate::translation::{Costs, RequestCost};
use crate::workload::Workload;

/// Added latency targets (p50, p99) and memory targets, from issue 6.
const ADDED_P50_MS: f64 = 0.3;
const ADDED_P99_MS: f64 = 1.0;
const IDLE_RSS_MIB: f64 = 10.0;
const LOADED_RSS_MIB: f64 = 50.0;

/// One throughput run, direct and through codexd, with codexd's memory.
pub struct Load {
    pub concurrency: usize,
    pub direct: Throughput,
    pub through: Throughput,
    pub memory: Memory,
}

/// Everything measured.
pub struct Report {
    request_bytes: usize,
    tools: usize,
    reply_events: usize,
    reply_bytes: usize,
    pub costs: Option<Costs>,
    /// Parse + translate + serialize of the request, in process.
    pub request_cost: Option<RequestCost>,
    /// The same over a Claude Code session, by what was made new each turn.
    pub session: Option<SessionCost>,
    pub startups: Vec<Duration>,
    pub idle: Option<Memory>,
    /// The latency runs, in the order measured; the first sets the round count shown.
    pub latency: Vec<Latency>,
    pub loads: Vec<Load>,
}

/// One latency run: the same sequential fetches, direct and through codexd.
pub struct Latency {
    /// How this run differs from the first, e.g. `back to back` (`None` for the first).
    pub setting: Option<String>,
    pub direct: Vec<Timing>,
    pub through: Vec<Timing>,
}

impl Latency {
    /// From [`crate::measure::alternate`]'s timings of `[direct, through]`.
    pub fn new(setting: Option<String>, timings: Vec<Vec<Timing>>) -> Self {
        let mut timings = timings.into_iter();
        Latency { setting, direct: timings.next().unwrap_or_default(), through: timings.next().unwrap_or_default() }
    }
}

impl Report {
    pub fn new(workload: &Workload) -> Self {
        Report {
            request_bytes: workload.anthropic_body.len(),
            tools: workload.tools,
            reply_events: workload.reply.len(),
            reply_bytes: workload.reply.iter().map(|frame| frame.len()).sum(),
            costs: None,
            request_cost: None,
            session: None,
            startups: Vec::new(),
            idle: None,
            latency: Vec::new(),
            loads: Vec::new(),
        }
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "✅"
    } else {
        "❌"
    }
}

impl Report {
    fn latency_rows(
        f: &mut fmt::Formatter<'_>,
        label: &str,
        run: &Latency,
        pick: fn(&Timing) -> Duration,
    ) -> fmt::Result {
        let label = match &run.setting {
            Some(setting) => format!("{label}, {setting}"),
            None => label.to_owned(),
        };
        let direct = percentiles(run.direct.iter().map(pick).collect());
        let through = percentiles(run.through.iter().map(pick).collect());
        let rows = [("p50", direct.p50, through.p50, ADDED_P50_MS), ("p99", direct.p99, through.p99, ADDED_P99_MS)];
        for (name, direct, through, target) in rows {
            let added = ms(through) - ms(direct);
            writeln!(
                f,
                "| {label}, {name} | {:.3} ms | {:.3} ms | **{added:+.3} ms** | ≤ {target} ms added {} |",
                ms(through),
                ms(direct),
                verdict(added <= target)
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Workload: request {:.1} KB with {} tools; reply {} upstream events ({:.1} KB); {} timed rounds each.\n",
            self.request_bytes as f64 / 1024.0,
            self.tools,
            self.reply_events,
            self.reply_bytes as f64 / 1024.0,
            self.latency.first().map_or(0, |run| run.through.len()),
        )?;
        writeln!(f, "| metric | codexd | direct from mock | added by codexd | target |")?;
        writeln!(f, "|---|---:|---:|---:|---|")?;
        for run in &self.latency {
            Self::latency_rows(f, "time to first byte", run, |t| t.first_byte)?;
            Self::latency_rows(f, "time to last byte", run, |t| t.last_byte)?;
        }
        if let Some(costs) = &self.costs {
            let detail = format!(
                "decode {:.0} (typed JSON parse alone: {:.0}), translate {:.0}, encode {:.0}",
                costs.decode_ns, costs.json_ns, costs.translate_ns, costs.encode_ns
            );
            writeln!(
                f,
                "| pipeline cost per upstream event (ns: {}) | {:.0} ns | | {:.1} µs per reply | |",
                detail,
                costs.total_ns(),
                costs.total_ns() * costs.events as f64 / 1000.0
            )?;
        }
        if let Some(cost) = self.request_cost {
            let rows = [
                ("the same request again (as in the latency runs)", cost.repeated),
                ("a session's next turn (last two messages new)", cost.next_turn),
                ("a session's first request (nothing seen before)", cost.first),
            ];
            for (case, cost) in rows {
                writeln!(f, "| request parse + translate + serialize, {case} | {:.3} ms | | | |", ms(cost))?;
            }
        }
        if let Some(session) = &self.session {
            let as_sent = session.per_turn.iter().find(|(unseen, _)| *unseen == Unseen::Nothing).map(|(_, cost)| *cost);
            for (unseen, cost) in &session.per_turn {
                let case = match unseen {
                    Unseen::Nothing => "as sent",
                    Unseen::Schemas => "tool schemas new every turn (the schema memo cannot hit)",
                };
                let bought = match as_sent {
                    Some(as_sent) if *unseen != Unseen::Nothing => {
                        format!("memo saves {:.3} ms", ms(*cost) - ms(as_sent))
                    }
                    _ => String::new(),
                };
                writeln!(
                    f,
                    "| request parse + translate + serialize, mean of a {}-turn Claude Code session (last turn {:.0} KB), {case} | {:.3} ms | | {bought} | |",
                    crate::session::TURNS,
                    session.last_turn_bytes as f64 / 1024.0,
                    ms(*cost)
                )?;
            }
        }
        for load in &self.loads {
            writeln!(
                f,
                "| throughput, {} concurrent stream{} | {:.0} streams/s | {:.0} streams/s | {:.0}% of direct | |",
                load.concurrency,
                if load.concurrency == 1 { "" } else { "s" },
                load.through.per_second(),
                load.direct.per_second(),
                100.0 * load.through.per_second() / load.direct.per_second(),
            )?;
        }
        if let Some(idle) = &self.idle {
            let (now, anon, peak) = (mib(idle.rss_kib), mib(idle.anon_kib), mib(idle.peak_kib));
            writeln!(
                f,
                "| RSS idle after startup (VmRSS, of which RssAnon; peak VmHWM) | {now:.1} MiB ({anon:.1} anon; peak {peak:.1}) | | | ≤ {IDLE_RSS_MIB} MiB {} |",
                verdict(peak <= IDLE_RSS_MIB)
            )?;
        }
        for load in &self.loads {
            let peak = mib(load.memory.peak_kib);
            let target = if load.concurrency == 64 {
                format!("≤ {LOADED_RSS_MIB} MiB {}", verdict(peak <= LOADED_RSS_MIB))
            } else {
                String::new()
            };
            writeln!(
                f,
                "| peak RSS with {} concurrent stream{} | {peak:.1} MiB | | | {target} |",
                load.concurrency,
                if load.concurrency == 1 { "" } else { "s" }
            )?;
        }
        if !self.startups.is_empty() {
            let mut startups = self.startups.clone();
            startups.sort_unstable();
            let median = startups[startups.len() / 2];
            let max = startups[startups.len() - 1];
            writeln!(
                f,
                "| startup to a ready /health (median of {}, max) | {:.1} ms (max {:.1}) | | | |",
                startups.len(),
                ms(median),
                ms(max)
            )?;
        }
        Ok(())
    }
}
