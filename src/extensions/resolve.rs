//! Dependency resolution: which extensions can be loaded, and in which order.
//!
//! Every problem is found in one pass and reported with the manifest's path: a duplicate name
//! (the first one found is used), a plughost version outside `[host] plughost`, a missing
//! dependency, a dependency whose version is outside the range, and cycles (printed
//! `a -> b -> a`). An extension with a problem, or depending (directly or not) on one, is blocked;
//! the others get a load order where every extension comes after its dependencies (ties by name).

use super::manifest::Manifest;
use semver::Version;
use std::collections::{BTreeMap, BTreeSet};

/// The outcome of a resolution.
#[derive(Debug, Default)]
pub struct Resolution {
    /// Indices (into the given manifests) of the loadable extensions, in load order.
    pub order: Vec<usize>,
    /// The problems of each extension that cannot be loaded, by index.
    pub blocked: BTreeMap<usize, Vec<String>>,
}

impl Resolution {
    /// Every problem, in manifest order.
    pub fn problems(&self) -> Vec<String> {
        self.blocked.values().flatten().cloned().collect()
    }
}

/// Resolve `manifests` (in priority order) for a host of version `host`.
pub fn resolve(manifests: &[Manifest], host: &Version) -> Resolution {
    let mut blocked: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut block = |i: usize, text: String| {
        blocked.entry(i).or_default().push(format!("{}: {text}", manifests[i].origin.display()))
    };
    // The first manifest of each name is the one used.
    let mut by_name: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, m) in manifests.iter().enumerate() {
        if let Some(&first) = by_name.get(m.name.as_str()) {
            block(
                i,
                format!(
                    "duplicate extension \"{}\": also declared in {}, which is used",
                    m.name,
                    manifests[first].origin.display()
                ),
            );
        } else {
            by_name.insert(&m.name, i);
        }
    }
    for (&_, &i) in &by_name {
        let m = &manifests[i];
        if let Some(req) = m.host.as_ref().filter(|req| !req.matches(host)) {
            block(i, format!("needs plughost {req}, but this host is {host}"));
        }
        for (dep, req) in &m.dependencies {
            match by_name.get(dep.as_str()) {
                None => block(i, format!("depends on \"{dep}\" {req}, which is not installed")),
                Some(&d) if !req.matches(&manifests[d].version) => {
                    block(i, format!("depends on \"{dep}\" {req}, but {} is installed", manifests[d].version))
                }
                Some(_) => {}
            }
        }
    }
    let edges = |i: usize| -> Vec<usize> {
        manifests[i].dependencies.iter().filter_map(|(d, _)| by_name.get(d.as_str()).copied()).collect()
    };
    for cycle in cycles(&by_name.values().copied().collect::<Vec<_>>(), &edges) {
        let path: Vec<&str> = cycle.iter().chain(cycle.first()).map(|&i| manifests[i].name.as_str()).collect();
        for &i in &cycle {
            block(i, format!("dependency cycle: {}", path.join(" -> ")));
        }
    }
    // Whatever depends on a blocked extension is blocked, until nothing changes.
    loop {
        let newly: Vec<(usize, String)> = by_name
            .values()
            .filter(|i| !blocked.contains_key(i))
            .filter_map(|&i| {
                let dep = edges(i).into_iter().find(|d| blocked.contains_key(d))?;
                Some((i, format!("depends on \"{}\", which cannot be loaded", manifests[dep].name)))
            })
            .collect();
        if newly.is_empty() {
            break;
        }
        for (i, text) in newly {
            blocked.entry(i).or_default().push(format!("{}: {text}", manifests[i].origin.display()));
        }
    }
    // Kahn's algorithm over the loadable ones, the smallest name first.
    let mut left: BTreeSet<(&str, usize)> =
        by_name.iter().filter(|(_, i)| !blocked.contains_key(i)).map(|(n, i)| (*n, *i)).collect();
    let mut order = Vec::new();
    while let Some(&next) = left.iter().find(|(_, i)| edges(*i).iter().all(|d| order.contains(d))) {
        left.remove(&next);
        order.push(next.1);
    }
    debug_assert!(left.is_empty(), "cycles are blocked above");
    Resolution { order, blocked }
}

/// The elementary cycles found by a depth-first search from each node (each reported once,
/// starting at its smallest index).
fn cycles(nodes: &[usize], edges: &dyn Fn(usize) -> Vec<usize>) -> Vec<Vec<usize>> {
    fn visit(
        node: usize,
        edges: &dyn Fn(usize) -> Vec<usize>,
        stack: &mut Vec<usize>,
        done: &mut BTreeSet<usize>,
        found: &mut BTreeSet<Vec<usize>>,
    ) {
        if let Some(at) = stack.iter().position(|&n| n == node) {
            let mut cycle = stack[at..].to_vec();
            let smallest = cycle.iter().enumerate().min_by_key(|(_, n)| **n).map_or(0, |(i, _)| i);
            cycle.rotate_left(smallest);
            found.insert(cycle);
            return;
        }
        if done.contains(&node) {
            return;
        }
        stack.push(node);
        for next in edges(node) {
            visit(next, edges, stack, done, found);
        }
        stack.pop();
        done.insert(node);
    }
    let (mut done, mut found) = (BTreeSet::new(), BTreeSet::new());
    for &node in nodes {
        visit(node, edges, &mut Vec::new(), &mut done, &mut found);
    }
    found.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extensions::manifest::parse;
    use std::path::PathBuf;

    fn m(name: &str, version: &str, deps: &[(&str, &str)], host: Option<&str>) -> Manifest {
        let mut text = format!("[extension]\nname = \"{name}\"\nversion = \"{version}\"\nkind = \"python\"\nentry = \"x.py\"\n[dependencies]\n");
        for (d, r) in deps {
            text.push_str(&format!("{d} = \"{r}\"\n"));
        }
        if let Some(h) = host {
            text.push_str(&format!("[host]\nplughost = \"{h}\"\n"));
        }
        parse(&text, &PathBuf::from(format!("/ext/{name}/extension.toml"))).unwrap()
    }

    fn names(ms: &[Manifest], r: &Resolution) -> Vec<String> {
        r.order.iter().map(|&i| ms[i].name.clone()).collect()
    }

    #[test]
    fn load_order_puts_dependencies_first() {
        let ms = [
            m("app", "1.0.0", &[("ui", "^2"), ("core", "^1.1")], None),
            m("ui", "2.3.0", &[("core", ">=1")], Some(">=0.1")),
            m("core", "1.4.0", &[], None),
            m("alone", "0.1.0", &[], None),
        ];
        let r = resolve(&ms, &Version::new(0, 1, 0));
        assert!(r.blocked.is_empty(), "{:?}", r.problems());
        assert_eq!(names(&ms, &r), ["alone", "core", "ui", "app"]);
    }

    #[test]
    fn every_resolution_problem_is_reported_and_only_the_affected_are_blocked() {
        let ms = [
            m("a", "1.0.0", &[("b", "^1")], None),
            m("b", "1.0.0", &[("c", "^1")], None),
            m("c", "1.0.0", &[("a", "^1")], None),
            m("self", "1.0.0", &[("self", "*")], None),
            m("lonely", "1.0.0", &[("ghost", "^1")], None),
            m("old", "1.0.0", &[("core", "^2")], None),
            m("core", "1.5.0", &[], None),
            m("future", "1.0.0", &[], Some(">=9")),
            m("user", "1.0.0", &[("future", "*")], None),
            m("core", "3.0.0", &[], None),
            m("fine", "1.0.0", &[("core", "~1.5")], None),
        ];
        let r = resolve(&ms, &Version::new(0, 1, 0));
        assert_eq!(names(&ms, &r), ["core", "fine"]);
        let all = r.problems().join("\n");
        for expected in [
            "/ext/a/extension.toml: dependency cycle: a -> b -> c -> a",
            "/ext/c/extension.toml: dependency cycle: a -> b -> c -> a",
            "dependency cycle: self -> self",
            "/ext/lonely/extension.toml: depends on \"ghost\" ^1, which is not installed",
            "/ext/old/extension.toml: depends on \"core\" ^2, but 1.5.0 is installed",
            "/ext/future/extension.toml: needs plughost >=9, but this host is 0.1.0",
            "/ext/user/extension.toml: depends on \"future\", which cannot be loaded",
            "/ext/core/extension.toml: duplicate extension \"core\": also declared in /ext/core/extension.toml",
        ] {
            assert!(all.contains(expected), "{expected:?} missing from:\n{all}");
        }
        assert_eq!(all.matches("dependency cycle: a -> b -> c -> a").count(), 3, "{all}");
    }
}
