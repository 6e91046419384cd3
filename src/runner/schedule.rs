//! How the workers share a run: the queue of nodes ready to run (their parents done), the
//! results so far, and what a failure or a stop request skips.

use super::*;

/// The state the workers share: the queue, the results so far and the progress callback.
pub(super) struct Schedule<'r, F> {
    pub(super) queue: Queue,
    pub(super) results: &'r mut Vec<NodeResult>,
    pub(super) on_done: &'r mut F,
    /// Nodes being run now.
    pub(super) running: usize,
    /// Workers waiting for a node to become ready.
    pub(super) idle: usize,
}

impl<F: FnMut(usize, &NodeResult)> Schedule<'_, F> {
    /// The next ready node to run, smallest plan index first; ready nodes downstream of a
    /// failure are recorded as skipped on the way. `None` when nothing is ready now.
    pub(super) fn take_runnable(&mut self, order: &[String]) -> Option<usize> {
        if let Some(signal) = crate::adapter::cancel::requested() {
            // Told to stop: nothing more starts. What has not started is skipped, so that
            // `mallard retry` runs it next.
            for i in self.queue.drain_unstarted() {
                let mut r = NodeResult::skipped(&order[i]);
                r.message = Some(format!(
                    "not started: the run was interrupted by {}",
                    crate::adapter::cancel::signal_name(signal)
                ));
                self.record(i, r);
            }
            return None;
        }
        if self.queue.stopped {
            // Everything not started is skipped, including what is not ready yet.
            for i in self.queue.drain_unstarted() {
                self.record(i, NodeResult::skipped(&order[i]));
            }
            return None;
        }
        while let Some(i) = self.queue.next_ready() {
            if !self.queue.is_blocked(i) {
                return Some(i);
            }
            self.record(i, NodeResult::skipped(&order[i]));
        }
        None
    }

    /// Records node `i`'s result: its children may become ready (or blocked), `on_done` sees
    /// it, and it joins the results in finishing order.
    pub(super) fn record(&mut self, i: usize, r: NodeResult) {
        self.queue.finish(i, &r);
        (self.on_done)(i + 1, &r);
        self.results.push(r);
    }
}

/// Which nodes of a plan may start: a node is ready when every node before it in the plan's
/// edges has finished; a node downstream of a failure or a skip is blocked (to be skipped).
pub(super) struct Queue {
    pub(super) children: BTreeMap<usize, Vec<usize>>,
    /// Unfinished parents of each node.
    pub(super) waiting: Vec<usize>,
    /// Ready nodes, smallest plan index first.
    pub(super) ready: BinaryHeap<Reverse<usize>>,
    pub(super) blocked: BTreeSet<usize>,
    /// Nodes handed out or finished.
    pub(super) started: Vec<bool>,
    /// Stop after the first failure (`--fail-fast`).
    pub(super) fail_fast: bool,
    /// No node may start any more.
    pub(super) stopped: bool,
}

impl Queue {
    pub(super) fn new(plan: &Plan) -> Queue {
        let position: BTreeMap<&str, usize> = plan
            .order
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        let mut children: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        let mut waiting = vec![0; plan.order.len()];
        for (a, b) in &plan.edges {
            if let (Some(&i), Some(&j)) = (position.get(a.as_str()), position.get(b.as_str())) {
                children.entry(i).or_default().push(j);
                waiting[j] += 1;
            }
        }
        let ready = (0..plan.order.len())
            .filter(|i| waiting[*i] == 0)
            .map(Reverse)
            .collect();
        Queue {
            children,
            waiting,
            ready,
            blocked: BTreeSet::new(),
            started: vec![false; plan.order.len()],
            fail_fast: false,
            stopped: false,
        }
    }

    pub(super) fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    pub(super) fn next_ready(&mut self) -> Option<usize> {
        let i = self.ready.pop().map(|Reverse(i)| i)?;
        self.started[i] = true;
        Some(i)
    }

    /// Marks every node not yet started as started and returns them, in plan order.
    pub(super) fn drain_unstarted(&mut self) -> Vec<usize> {
        self.ready.clear();
        let out: Vec<usize> = (0..self.started.len()).filter(|i| !self.started[*i]).collect();
        for i in &out {
            self.started[*i] = true;
        }
        out
    }

    pub(super) fn is_blocked(&self, i: usize) -> bool {
        self.blocked.contains(&i)
    }

    /// Records that node `i` finished with `r`: its children lose a parent to wait for, and
    /// if `r` failed or was skipped, they are blocked, and so (in turn) is everything below.
    pub(super) fn finish(&mut self, i: usize, r: &NodeResult) {
        self.started[i] = true;
        if self.fail_fast && r.status.is_failure() {
            self.stopped = true;
        }
        let children = self.children.get(&i).cloned().unwrap_or_default();
        for c in children {
            if r.status.is_failure() || r.status == Status::Skipped {
                self.blocked.insert(c);
            }
            self.waiting[c] -= 1;
            if self.waiting[c] == 0 {
                self.ready.push(Reverse(c));
            }
        }
    }
}

/// One worker's loop: takes the next ready node of `order` under the schedule's lock, runs it
/// with `run` outside the lock, and records its result (with `thread_id`) under the lock
/// again, until every node is done. A worker sleeps only when nothing is ready while others
/// run, and is woken only when a finish makes a node ready: one wake-up per node through a
/// channel cost a third of `compile`'s CPU time.
pub(super) fn work<F: FnMut(usize, &NodeResult)>(
    state: &Mutex<Schedule<'_, F>>,
    wake: &Condvar,
    order: &[String],
    thread_id: &str,
    run: impl Fn(&str) -> NodeResult,
) {
    let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        if let Some(i) = s.take_runnable(order) {
            s.running += 1;
            drop(s);
            let mut r = run(&order[i]);
            r.thread_id = thread_id.to_string();
            if let (Some(signal), Status::Error) = (crate::adapter::cancel::requested(), r.status) {
                r.message = Some(format!(
                    "interrupted by {} while running: its changes were rolled back",
                    crate::adapter::cancel::signal_name(signal)
                ));
            }
            s = state.lock().unwrap_or_else(|p| p.into_inner());
            s.running -= 1;
            s.record(i, r);
            if s.idle > 0 && (s.queue.has_ready() || s.running == 0) {
                wake.notify_all();
            }
        } else if s.running == 0 {
            // Nothing ready and nothing running: every node is done (or blocked and
            // recorded as skipped by take_runnable).
            if s.idle > 0 {
                wake.notify_all();
            }
            break;
        } else {
            s.idle += 1;
            s = wake.wait(s).unwrap_or_else(|p| p.into_inner());
            s.idle -= 1;
        }
    }
}
