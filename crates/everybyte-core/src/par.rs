//! Work spread over the cores: each thread takes the next item until none is left, and the
//! results come back in the items' order.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Locks `m`, taking the data even if another thread panicked while holding it. The data kept
/// under these locks (counters, samples, a queue's sender) stays valid at every step, so one
/// failed thread must not turn every later lock into another panic: a server keeps serving.
pub fn lock<T: ?Sized>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The number of threads to use: the cores this process may run on, read once (finding it
/// reads the cgroup's CPU quota files).
pub fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
}

/// Runs `f` over `items` on all cores, each thread folding the items it takes (with their
/// index) into its own state; `init` makes a state. Returns the states, one per thread. Each
/// thread sees its items in ascending index order.
///
/// Items are handed out in chunks that shrink as the work runs out (guided scheduling): many
/// small files cost one shared counter update per chunk rather than per file, and a few large
/// ones are still spread one at a time.
pub fn fold<T, S>(
    items: &[T],
    init: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, usize, &T) + Sync,
) -> Vec<S>
where
    T: Sync,
    S: Send,
{
    fold_finish(items, init, f, |s| s)
}

/// [`fold`], then `finish` on each thread's state, still on that thread (sorting what the
/// thread gathered, say).
pub fn fold_finish<T, S, O>(
    items: &[T],
    init: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, usize, &T) + Sync,
    finish: impl Fn(S) -> O + Sync,
) -> Vec<O>
where
    T: Sync,
    O: Send,
{
    let next = AtomicUsize::new(0);
    let threads = cores().min(items.len().max(1));
    let take = || {
        let mut start = next.load(Ordering::Relaxed);
        loop {
            let left = items.len().saturating_sub(start);
            if left == 0 {
                return None;
            }
            // At most 16: items are files in path order, and a folder of large ones should
            // still be shared between threads.
            let chunk = (left / (threads * 8)).clamp(1, 16);
            match next.compare_exchange_weak(
                start,
                start + chunk,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(start..start + chunk),
                Err(now) => start = now,
            }
        }
    };
    if threads == 1 {
        // One item or one core: no thread to start.
        let mut state = init();
        for (i, item) in items.iter().enumerate() {
            f(&mut state, i, item);
        }
        return vec![finish(state)];
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut state = init();
                    while let Some(range) = take() {
                        for i in range {
                            f(&mut state, i, &items[i]);
                        }
                    }
                    finish(state)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Maps `f` over `items` on all cores; `init` makes each thread's own state (a read buffer,
/// say). Results are in the order of `items`.
pub fn map_with<T, S, R>(
    items: &[T],
    init: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, &T) -> R + Sync,
) -> Vec<R>
where
    T: Sync,
    S: Send,
    R: Send,
{
    let per_thread = fold(
        items,
        || (init(), Vec::new()),
        |(state, mine): &mut (S, Vec<(usize, R)>), i, item| mine.push((i, f(state, item))),
    );
    // Each thread's results are in ascending index order, so a merge puts them in order:
    // every index is at the head of one list when its turn comes.
    let mut heads: Vec<_> = per_thread
        .into_iter()
        .map(|(_, v)| v.into_iter().peekable())
        .collect();
    let mut out = Vec::with_capacity(items.len());
    while let Some(r) = heads.iter_mut().find_map(|h| {
        let want = out.len();
        h.next_if(|(i, _)| *i == want)
    }) {
        out.push(r.1);
    }
    out
}

/// Maps `f` over `items` on all cores, results in order.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    map_with(items, || (), |(), t| f(t))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_lock_held_by_a_thread_that_panicked_still_opens() {
        let m = std::sync::Mutex::new(1);
        let r = std::thread::scope(|s| {
            s.spawn(|| {
                let _held = m.lock().unwrap();
                panic!("worker failed");
            })
            .join()
        });
        assert!(r.is_err());
        assert!(m.is_poisoned());
        *super::lock(&m) += 1;
        assert_eq!(*super::lock(&m), 2);
    }

    #[test]
    fn keeps_order() {
        let v: Vec<u64> = (0..10_000).collect();
        let out = super::map(&v, |x| x * 2);
        assert_eq!(out, v.iter().map(|x| x * 2).collect::<Vec<_>>());
        assert!(super::map::<u64, u64>(&[], |x| *x).is_empty());
        let states = super::fold(&v, Vec::new, |seen: &mut Vec<usize>, i, x| {
            assert_eq!(i as u64, *x);
            seen.push(i);
        });
        let mut all: Vec<usize> = states.concat();
        assert!(states.iter().all(|s| s.is_sorted()));
        all.sort_unstable();
        assert_eq!(all, (0..v.len()).collect::<Vec<_>>());
        let counted = super::map_with(
            &v,
            || 0u64,
            |n, _| {
                *n += 1;
                *n
            },
        );
        assert_eq!(counted.len(), v.len());
    }
}
