//! The table graph: tables as nodes, foreign keys as edges from child to parent,
//! and from it a load order that puts every parent before its children.
//!
//! Self-references are set aside: the server checks a non-deferred key at the end
//! of each COPY statement, so the rows of one file may come in any order. Cycles
//! are found as strongly connected components (Tarjan) and broken by the cheapest
//! set of keys whose removal leaves the component acyclic ([`Edge::cost`] lets the
//! caller prefer keys that are cheap to break, such as deferrable ones). The order
//! is deterministic: ties go to the smaller table name.
//!
//! This module knows nothing of PostgreSQL; [`crate::plan`](mod@crate::plan) turns keys into edges
//! and the chosen edges into actions.

use std::collections::{BTreeSet, HashMap};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

/// Components of at most this many tables are broken optimally (a subset dynamic
/// programme, O(2^n · n · d)); larger ones greedily.
const EXACT_LIMIT: usize = 16;

/// One foreign key between two tables (child references parent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    pub child: usize,
    pub parent: usize,
    /// The caller's id for the key.
    pub key: usize,
    /// What breaking this key costs; the chosen set minimises the sum.
    pub cost: u64,
}

/// The load order and how cycles were broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// Node indices, parents first.
    pub order: Vec<usize>,
    /// Per node: 1 for a table with no parent among the loaded tables, else one more
    /// than its highest parent (edges that were broken do not count).
    pub level: Vec<u32>,
    /// The keys to break, in ascending key id.
    pub broken: Vec<usize>,
    /// Each cycle (strongly connected component of two or more tables) as node
    /// indices in name order; cycles in order of their first name.
    pub cycles: Vec<Vec<usize>>,
}

/// Orders `names.len()` nodes given `edges`.
///
/// Complexity: O(V + E) for the components and the order, plus, per cycle of n
/// tables, O(2^n · n · d) when n <= 16 and O(n · E) greedy steps otherwise.
pub fn order(names: &[String], edges: &[Edge]) -> Order {
    let n = names.len();
    let mut g: DiGraph<usize, usize> = DiGraph::with_capacity(n, edges.len());
    let nodes: Vec<NodeIndex> = (0..n).map(|i| g.add_node(i)).collect();
    for (i, e) in edges.iter().enumerate() {
        if e.child != e.parent {
            g.add_edge(nodes[e.child], nodes[e.parent], i);
        }
    }

    let mut cycles: Vec<Vec<usize>> = tarjan_scc(&g)
        .into_iter()
        .filter(|c| c.len() > 1)
        .map(|c| {
            let mut c: Vec<usize> = c.into_iter().map(|ni| g[ni]).collect();
            c.sort_by(|&a, &b| names[a].cmp(&names[b]).then(a.cmp(&b)));
            c
        })
        .collect();
    cycles.sort_by(|a, b| names[a[0]].cmp(&names[b[0]]));

    let mut broken: Vec<usize> = Vec::new();
    for c in &cycles {
        broken.extend(break_component(c, edges));
    }
    broken.sort_unstable();
    broken.dedup();

    let kept: Vec<&Edge> = edges
        .iter()
        .filter(|e| e.child != e.parent && broken.binary_search(&e.key).is_err())
        .collect();
    let (order, level) = topo(names, &kept);
    Order {
        order,
        level,
        broken,
        cycles,
    }
}

/// Kahn's algorithm with the smallest name first among the ready tables.
fn topo(names: &[String], edges: &[&Edge]) -> (Vec<usize>, Vec<u32>) {
    let n = names.len();
    let mut waiting = vec![0usize; n];
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    for e in edges {
        waiting[e.child] += 1;
        children[e.parent].push(e.child);
    }
    let mut ready: BTreeSet<(&str, usize)> = (0..n)
        .filter(|&i| waiting[i] == 0)
        .map(|i| (names[i].as_str(), i))
        .collect();
    let mut level = vec![1u32; n];
    let mut order = Vec::with_capacity(n);
    while let Some((_, i)) = ready.pop_first() {
        order.push(i);
        for &c in &children[i] {
            level[c] = level[c].max(level[i] + 1);
            waiting[c] -= 1;
            if waiting[c] == 0 {
                ready.insert((names[c].as_str(), c));
            }
        }
    }
    // The caller broke every cycle, so every node was reached; should a bug leave
    // one out, loading it last is safer than dropping it from the load.
    if order.len() < n {
        let missing: Vec<usize> = (0..n).filter(|i| !order.contains(i)).collect();
        order.extend(missing);
    }
    (order, level)
}

/// The keys to break inside one strongly connected component.
fn break_component(comp: &[usize], edges: &[Edge]) -> Vec<usize> {
    let pos: HashMap<usize, usize> = comp.iter().enumerate().map(|(i, &v)| (v, i)).collect();
    // Keys between two tables of the component, by (child, parent) position.
    let mut between: Vec<(usize, usize, &Edge)> = edges
        .iter()
        .filter(|e| e.child != e.parent)
        .filter_map(|e| Some((*pos.get(&e.child)?, *pos.get(&e.parent)?, e)))
        .collect();
    between.sort_by_key(|&(c, p, e)| (c, p, e.key));
    let n = comp.len();
    // The cost of loading `c` before `p`: every key from c to p must be broken.
    let mut pair_cost: HashMap<(usize, usize), u64> = HashMap::new();
    for &(c, p, e) in &between {
        *pair_cost.entry((c, p)).or_default() += e.cost;
    }
    let sequence = if n <= EXACT_LIMIT {
        exact_sequence(n, &pair_cost)
    } else {
        greedy_sequence(n, &pair_cost)
    };
    // In the chosen sequence, a key whose parent comes after its child is broken.
    let mut rank = vec![0usize; n];
    for (r, &v) in sequence.iter().enumerate() {
        rank[v] = r;
    }
    between
        .iter()
        .filter(|&&(c, p, _)| rank[p] > rank[c])
        .map(|&(_, _, e)| e.key)
        .collect()
}

/// The cheapest sequence of the component's tables, where placing a table costs
/// the keys from it to tables not yet placed. dp over subsets of placed tables.
fn exact_sequence(n: usize, pair_cost: &HashMap<(usize, usize), u64>) -> Vec<usize> {
    let full = (1usize << n) - 1;
    let mut out_edges: Vec<Vec<(usize, u64)>> = vec![Vec::new(); n];
    for (&(c, p), &w) in pair_cost {
        out_edges[c].push((p, w));
    }
    let mut best = vec![u64::MAX; full + 1];
    let mut choice = vec![usize::MAX; full + 1];
    best[0] = 0;
    for set in 0..full {
        if best[set] == u64::MAX {
            continue;
        }
        for (v, out) in out_edges.iter().enumerate() {
            if set & (1 << v) != 0 {
                continue;
            }
            let cost: u64 = out
                .iter()
                .filter(|(p, _)| set & (1 << p) == 0)
                .map(|&(_, w)| w)
                .sum();
            let next = set | (1 << v);
            let total = best[set] + cost;
            // Strictly better only: the first (lowest-index, i.e. smallest-name)
            // choice wins ties, which keeps the result deterministic.
            if total < best[next] {
                best[next] = total;
                choice[next] = v;
            }
        }
    }
    let mut seq = Vec::with_capacity(n);
    let mut set = full;
    while set != 0 {
        let v = choice[set];
        seq.push(v);
        set &= !(1 << v);
    }
    seq.reverse();
    seq
}

/// For large components: repeatedly place the table whose not-yet-placed parents
/// cost least to break, relative to how many children wait for it.
fn greedy_sequence(n: usize, pair_cost: &HashMap<(usize, usize), u64>) -> Vec<usize> {
    let mut placed = vec![false; n];
    let mut seq = Vec::with_capacity(n);
    for _ in 0..n {
        let mut best: Option<(u64, u64, usize)> = None;
        for v in (0..n).filter(|&v| !placed[v]) {
            let breaks: u64 = pair_cost
                .iter()
                .filter(|&(&(c, p), _)| c == v && !placed[p])
                .map(|(_, &w)| w)
                .sum();
            let helps: u64 = pair_cost
                .iter()
                .filter(|&(&(c, p), _)| p == v && !placed[c])
                .map(|(_, &w)| w)
                .sum();
            // Lower breaks first; among equal, the one more children wait for.
            let key = (breaks, u64::MAX - helps, v);
            if best.is_none_or(|b| key < b) {
                best = Some(key);
            }
        }
        if let Some((_, _, v)) = best {
            placed[v] = true;
            seq.push(v);
        }
    }
    seq
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("t{i:02}")).collect()
    }

    fn edge(key: usize, child: usize, parent: usize, cost: u64) -> Edge {
        Edge {
            child,
            parent,
            key,
            cost,
        }
    }

    #[test]
    fn chain_and_diamond_put_parents_first() {
        // t00 <- t01 <- t02, and t03 references both t01 and t02.
        let e = [
            edge(0, 1, 0, 1),
            edge(1, 2, 1, 1),
            edge(2, 3, 1, 1),
            edge(3, 3, 2, 1),
        ];
        let o = order(&names(4), &e);
        assert_eq!(o.order, [0, 1, 2, 3]);
        assert_eq!(o.level, [1, 2, 3, 4]);
        assert!(o.broken.is_empty() && o.cycles.is_empty());
    }

    #[test]
    fn ties_go_to_the_smaller_name() {
        let n = vec!["b".to_string(), "a".to_string(), "c".to_string()];
        let o = order(&n, &[]);
        assert_eq!(o.order, [1, 0, 2]);
    }

    #[test]
    fn self_reference_needs_no_action() {
        let o = order(&names(1), &[edge(0, 0, 0, 1)]);
        assert_eq!(o.order, [0]);
        assert!(o.broken.is_empty() && o.cycles.is_empty());
    }

    #[test]
    fn two_table_cycle_breaks_the_cheaper_key() {
        // t00 -> t01 costs 10 (not deferrable), t01 -> t00 costs 5 (deferrable).
        let o = order(&names(2), &[edge(7, 0, 1, 10), edge(8, 1, 0, 5)]);
        assert_eq!(o.broken, [8]);
        assert_eq!(o.cycles, [vec![0, 1]]);
        assert_eq!(o.order, [1, 0]);
    }

    #[test]
    fn one_key_breaks_two_cycles_through_it() {
        // a -> b -> c -> a and a -> c -> ... : c->a is on both cycles.
        let e = [
            edge(0, 0, 1, 1),
            edge(1, 1, 2, 1),
            edge(2, 2, 0, 1),
            edge(3, 0, 2, 1),
        ];
        let o = order(&names(3), &e);
        assert_eq!(o.broken, [2]);
    }

    #[test]
    fn parallel_keys_are_broken_together() {
        // Two keys from t00 to t01 and one back: breaking the single key is cheaper.
        let e = [edge(0, 0, 1, 1), edge(1, 0, 1, 1), edge(2, 1, 0, 1)];
        let o = order(&names(2), &e);
        assert_eq!(o.broken, [2]);
    }

    fn check(n: usize, edges: &[Edge], o: &Order) -> Result<(), TestCaseError> {
        // Every table exactly once.
        let mut seen = o.order.clone();
        seen.sort_unstable();
        prop_assert_eq!(seen, (0..n).collect::<Vec<_>>());
        // No child before its parent unless the key was broken.
        let mut rank = vec![0; n];
        for (r, &v) in o.order.iter().enumerate() {
            rank[v] = r;
        }
        for e in edges {
            if e.child != e.parent && !o.broken.contains(&e.key) {
                prop_assert!(rank[e.parent] < rank[e.child], "{:?} violated", e);
            }
        }
        // Broken keys all lie inside cycles.
        for k in &o.broken {
            let e = edges.iter().find(|e| e.key == *k).unwrap();
            prop_assert!(
                o.cycles
                    .iter()
                    .any(|c| c.contains(&e.child) && c.contains(&e.parent))
            );
        }
        Ok(())
    }

    fn graphs(max_n: usize) -> impl Strategy<Value = (usize, Vec<Edge>)> {
        (1..max_n).prop_flat_map(|n| {
            let e = (0..n, 0..n, 1u64..4);
            (Just(n), proptest::collection::vec(e, 0..n * 3)).prop_map(|(n, es)| {
                let edges = es
                    .into_iter()
                    .enumerate()
                    .map(|(k, (c, p, w))| edge(k, c, p, w))
                    .collect();
                (n, edges)
            })
        })
    }

    proptest! {
        #[test]
        fn orders_are_valid_small((n, edges) in graphs(9)) {
            let o = order(&names(n), &edges);
            check(n, &edges, &o)?;
        }

        #[test]
        fn orders_are_valid_large((n, edges) in graphs(40)) {
            let o = order(&names(n), &edges);
            check(n, &edges, &o)?;
        }

        /// The exact search is never beaten by breaking keys at random: compare with
        /// every sequence of a small component.
        #[test]
        fn exact_is_minimal((n, edges) in graphs(6)) {
            let o = order(&names(n), &edges);
            let cost: u64 = o.broken.iter().map(|k| edges[*k].cost).sum();
            let mut best = u64::MAX;
            let mut perm: Vec<usize> = (0..n).collect();
            permute(&mut perm, 0, &mut |p| {
                let mut rank = vec![0; n];
                for (r, &v) in p.iter().enumerate() { rank[v] = r; }
                let c: u64 = edges.iter()
                    .filter(|e| e.child != e.parent && rank[e.parent] > rank[e.child])
                    .map(|e| e.cost).sum();
                best = best.min(c);
            });
            prop_assert_eq!(cost, best);
        }
    }

    fn permute(v: &mut Vec<usize>, k: usize, f: &mut impl FnMut(&[usize])) {
        if k == v.len() {
            f(v);
            return;
        }
        for i in k..v.len() {
            v.swap(k, i);
            permute(v, k + 1, f);
            v.swap(k, i);
        }
    }
}
