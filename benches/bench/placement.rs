//! Where the benchmark's threads run, for the latency rows that stand for a
//! remote backend: the mock upstream on a CPU of its own, the client and
//! codexd on the others.
//!
//! The real Codex backend streams from another machine; the mock streams
//! from this one, and answering with 332 separate writes as fast as it can
//! costs it about as much CPU as codexd spends on the whole request. Sharing
//! two CPUs, the three processes queue behind each other, and the rows
//! measure that queueing as much as codexd. Pinning the mock away from the
//! others measures what codexd itself adds. Linux only; `None` elsewhere or
//! with fewer than two CPUs.

#[cfg(target_os = "linux")]
mod imp {
    use rustix::process::Pid;
    use rustix::thread::{sched_getaffinity, sched_setaffinity, CpuSet};

    /// The CPUs this process may use, split in two.
    pub struct Placement {
        all: CpuSet,
        mock: CpuSet,
        rest: CpuSet,
    }

    impl Placement {
        pub fn split() -> Option<Placement> {
            let all = sched_getaffinity(None).ok()?;
            let cpus: Vec<usize> = (0..CpuSet::MAX_CPU).filter(|&cpu| all.is_set(cpu)).collect();
            let (&last, others) = cpus.split_last()?;
            if others.is_empty() {
                return None;
            }
            let mut mock = CpuSet::new();
            mock.set(last);
            let mut rest = CpuSet::new();
            for &cpu in others {
                rest.set(cpu);
            }
            Some(Placement { all, mock, rest })
        }

        /// The mock thread `mock` on its CPU; this thread (the client, and any
        /// codexd started from it from now on) on the others.
        pub fn apart(&self, mock: i32) -> Result<(), String> {
            sched_setaffinity(Some(pid(mock)?), &self.mock).map_err(|err| format!("pinning the mock: {err}"))?;
            sched_setaffinity(None, &self.rest).map_err(|err| format!("pinning the client: {err}"))
        }

        /// Both back on every CPU.
        pub fn together(&self, mock: i32) -> Result<(), String> {
            sched_setaffinity(Some(pid(mock)?), &self.all).map_err(|err| format!("unpinning the mock: {err}"))?;
            sched_setaffinity(None, &self.all).map_err(|err| format!("unpinning the client: {err}"))
        }

        /// E.g. `mock on CPU 1, client and codexd on CPU 0`.
        pub fn describe(&self) -> String {
            let list = |set: &CpuSet| {
                (0..CpuSet::MAX_CPU)
                    .filter(|&cpu| set.is_set(cpu))
                    .map(|cpu| cpu.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            format!("mock on CPU {}, client and codexd on CPU {}", list(&self.mock), list(&self.rest))
        }
    }

    fn pid(tid: i32) -> Result<Pid, String> {
        Pid::from_raw(tid).ok_or_else(|| format!("{tid} is not a thread id"))
    }

    /// The calling thread's id, for [`Placement::apart`].
    pub fn thread_id() -> i32 {
        rustix::thread::gettid().as_raw_nonzero().get()
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    pub struct Placement;

    impl Placement {
        pub fn split() -> Option<Placement> {
            None
        }
        pub fn apart(&self, _mock: i32) -> Result<(), String> {
            Ok(())
        }
        pub fn together(&self, _mock: i32) -> Result<(), String> {
            Ok(())
        }
        pub fn describe(&self) -> String {
            String::new()
        }
    }

    pub fn thread_id() -> i32 {
        0
    }
}

pub use imp::{thread_id, Placement};
