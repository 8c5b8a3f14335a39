//! The codexd benchmark (issue 6, item 6): `cargo bench --bench bench`.
//!
//! Against a mock Codex upstream on loopback that streams a realistic reply
//! (a reasoning summary, 300 text deltas and a tool call) for a
//! Claude-Code-sized request (≈60 KB, 19 tools), it measures:
//!
//! - the latency codexd adds: time to first and to last body byte, p50 and
//!   p99, through codexd vs the same stream fetched straight from the mock,
//!   with a 3 ms pause before each fetch and back to back, and again with
//!   the mock on a CPU of its own, as a remote backend would be;
//! - the cost per upstream event of decoding, translating and encoding;
//! - the cost of preparing a request, over a Claude Code session too, and
//!   what each memo buys there;
//! - throughput with 1, 16 and 64 concurrent streams;
//! - codexd's resident memory idle and at its peak under each load;
//! - its startup time, from spawn to a `200` from `/health`.
//!
//! codexd is the real release binary (`target/release/codexd serve`), a
//! child process. Every loop is bounded in count and time, all traffic stays
//! on 127.0.0.1, and the run ends by itself with one table (Markdown, to
//! paste into docs/benchmark.md). `--quick` runs a short smoke version;
//! `--latency` only the latency runs (with `--quick`, 50 rounds each);
//! `--prepare` only the in-process rows (no daemon);
//! `CODEXD_BENCH_BIN=/path/to/codexd` measures another build of codexd.

mod daemon;
mod measure;
mod placement;
mod report;
mod session;
mod translation;
mod upstream;
mod workload;

use std::time::Duration;

use bytes::Bytes;
use codexd::anthropic::sse;

use daemon::Daemon;
use measure::Target;
use placement::Placement;
use report::{Latency, Report};
use upstream::Upstream;
use workload::Workload;

/// The model the requests name, echoed by codexd.
pub const CLIENT_MODEL: &str = "claude-sonnet-4-5-20250929";

/// How much of everything to do.
struct Plan {
    startups: usize,
    warmup: usize,
    rounds: usize,
    translation_budget: Duration,
    /// `(concurrency, streams)` per throughput run.
    loads: Vec<(usize, usize)>,
    load_limit: Duration,
    /// `--latency`: only the latency runs, to compare builds quickly.
    latency_only: bool,
    /// `--prepare`: only the in-process request rows (no daemon).
    prepare_only: bool,
}

impl Plan {
    fn from_args() -> Plan {
        let latency_only = std::env::args().any(|arg| arg == "--latency");
        let prepare_only = std::env::args().any(|arg| arg == "--prepare");
        if std::env::args().any(|arg| arg == "--quick") {
            return Plan {
                latency_only,
                prepare_only,
                startups: 2,
                warmup: 5,
                rounds: 50,
                translation_budget: Duration::from_millis(200),
                loads: vec![(1, 20), (16, 64), (64, 128)],
                load_limit: Duration::from_secs(20),
            };
        }
        Plan {
            latency_only,
            prepare_only,
            startups: 7,
            warmup: 50,
            rounds: 1000,
            translation_budget: Duration::from_secs(2),
            loads: vec![(1, 300), (16, 800), (64, 1600)],
            load_limit: Duration::from_secs(60),
        }
    }
}

fn main() {
    let plan = Plan::from_args();
    eprintln!("bench: measuring {}", daemon::binary());
    let outcome = actix_web::rt::System::new().block_on(run(plan));
    match outcome {
        Ok(report) => println!("{report}"),
        Err(err) => {
            eprintln!("bench: {err}");
            std::process::exit(1);
        }
    }
}

async fn run(plan: Plan) -> Result<Report, String> {
    let workload = Workload::new()?;
    let mut report = Report::new(&workload);

    if !plan.latency_only {
        eprintln!("bench: translation cost per event …");
        report.costs = Some(translation::measure(&workload.reply, plan.translation_budget));
        report.request_cost = Some(translation::request_cost(&workload.anthropic_body, plan.translation_budget));
        eprintln!("bench: a Claude Code session, turn by turn …");
        report.session = Some(session::measure(plan.translation_budget)?);
    }
    if plan.prepare_only {
        return Ok(report);
    }

    let upstream = Upstream::start(workload.reply.clone())?;
    let result = measure_daemon(&plan, &workload, &upstream, &mut report).await;
    upstream.stop().await;
    result.map(|()| report)
}

async fn measure_daemon(
    plan: &Plan,
    workload: &Workload,
    upstream: &Upstream,
    report: &mut Report,
) -> Result<(), String> {
    eprintln!("bench: startup …");
    for _ in 1..plan.startups {
        let daemon = Daemon::start(&upstream.base_url).await?;
        report.startups.push(daemon.startup);
    }
    let daemon = Daemon::start(&upstream.base_url).await?;
    report.startups.push(daemon.startup);
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    report.idle = Some(daemon.memory()?);

    let (direct, through) = targets(workload, upstream, &daemon);
    let client = measure::client();
    eprintln!("bench: latency, {} rounds …", plan.rounds);
    let timings =
        measure::alternate(&client, &[&direct, &through], plan.warmup, plan.rounds, Some(measure::SETTLE)).await?;
    report.latency.push(Latency::new(None, timings));
    eprintln!("bench: latency back to back, {} rounds …", plan.rounds);
    let timings = measure::alternate(&client, &[&direct, &through], plan.warmup, plan.rounds, None).await?;
    report.latency.push(Latency::new(Some("back to back".to_owned()), timings));
    if let Some(placement) = Placement::split() {
        eprintln!("bench: latency with the {}, {} rounds …", placement.describe(), plan.rounds);
        let mock = upstream.worker_thread()?;
        placement.apart(mock)?;
        let timings = latency_apart(plan, workload, upstream, &client).await;
        placement.together(mock)?;
        let (paused, back_to_back) = timings?;
        report.latency.push(Latency::new(Some(placement.describe()), paused));
        report.latency.push(Latency::new(Some(format!("back to back, {}", placement.describe())), back_to_back));
    }

    if plan.latency_only {
        return Ok(());
    }
    for &(concurrency, streams) in &plan.loads {
        eprintln!("bench: {concurrency} concurrent streams …");
        let direct_run = measure::throughput(&client, &direct, concurrency, streams, plan.load_limit).await?;
        daemon.reset_peak()?;
        let through_run = measure::throughput(&client, &through, concurrency, streams, plan.load_limit).await?;
        report.loads.push(report::Load {
            concurrency,
            direct: direct_run,
            through: through_run,
            memory: daemon.memory()?,
        });
    }
    Ok(())
}

/// The paused and the back-to-back latency rounds again, against a codexd
/// started now, so that it runs where this thread may (see `placement`).
/// Back to back on shared CPUs, the client is sometimes woken on the CPU
/// where the mock is busy writing its 332 events and reads only when the
/// mock is done; apart, that queueing is gone and what remains is codexd's.
async fn latency_apart(
    plan: &Plan,
    workload: &Workload,
    upstream: &Upstream,
    client: &awc::Client,
) -> Result<(Vec<Vec<measure::Timing>>, Vec<Vec<measure::Timing>>), String> {
    let daemon = Daemon::start(&upstream.base_url).await?;
    let (direct, through) = targets(workload, upstream, &daemon);
    let targets = [&direct, &through];
    let paused = measure::alternate(client, &targets, plan.warmup, plan.rounds, Some(measure::SETTLE)).await?;
    let back_to_back = measure::alternate(client, &targets, plan.warmup, plan.rounds, None).await?;
    Ok((paused, back_to_back))
}

/// The same stream fetched straight from the mock, and through codexd.
fn targets(workload: &Workload, upstream: &Upstream, daemon: &Daemon) -> (Target, Target) {
    let direct = Target {
        name: "mock upstream",
        url: upstream.responses_url.clone(),
        body: workload.codex_body.clone(),
        headers: vec![("accept", "text/event-stream"), ("authorization", "Bearer bench-access-token")],
        expected: measure::normalize(&workload.reply_body()),
    };
    let translated: Vec<u8> =
        translation::translated(&workload.reply).iter().flat_map(|event| sse::encode(event).to_vec()).collect();
    let through = Target {
        name: "codexd",
        url: format!("{}/v1/messages?beta=true", daemon.url),
        body: workload.anthropic_body.clone(),
        headers: vec![
            ("anthropic-version", "2023-06-01"),
            ("x-api-key", "bench"),
            ("anthropic-beta", "claude-code-20250219"),
        ],
        expected: measure::normalize(&Bytes::from(translated)),
    };
    (direct, through)
}
