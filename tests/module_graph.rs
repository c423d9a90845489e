//! No import circle between the modules of `src/runtime` or of `src/capi`:
//! a circle means two files can only be read (and changed) together. Each
//! file's `super::x` and `crate::<layer>::x` references to a sibling module
//! are its edges; the graph must be acyclic.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The sibling modules each `src/<layer>/*.rs` file refers to.
fn module_graph(layer: &str) -> Graph {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(layer);
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs") && p.file_stem().is_some_and(|s| s != "mod"))
        .collect();
    let modules: BTreeSet<String> =
        files.iter().map(|p| p.file_stem().unwrap().to_string_lossy().into_owned()).collect();
    let mut graph = Graph::new();
    for path in &files {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let code: String = std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let mut uses = BTreeSet::new();
        for prefix in ["super::".to_string(), format!("crate::{layer}::")] {
            for (at, _) in code.match_indices(&prefix) {
                let rest = &code[at + prefix.len()..];
                // `super::{a::X, b}`: every name of the group.
                let names: Vec<&str> = match rest.strip_prefix('{') {
                    Some(group) => group[..group.find('}').unwrap_or(group.len())]
                        .split(',')
                        .map(|item| item.trim().split("::").next().unwrap_or(""))
                        .collect(),
                    None => vec![rest.split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or("")],
                };
                uses.extend(names.into_iter().filter(|n| modules.contains(*n) && *n != name).map(str::to_owned));
            }
        }
        graph.insert(name, uses);
    }
    graph
}

/// A circle of modules, if the graph has one.
fn find_circle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(node: &str, graph: &Graph, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut circle = path[at..].to_vec();
            circle.push(node.to_owned());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

fn assert_acyclic(layer: &str) {
    let graph = module_graph(layer);
    assert!(graph.len() > 5, "src/{layer} has too few modules; is the scan broken? {graph:?}");
    if let Some(circle) = find_circle(&graph) {
        panic!("import circle in src/{layer}: {}", circle.join(" -> "));
    }
}

#[test]
fn runtime_modules_import_no_circle() {
    assert_acyclic("runtime");
}

#[test]
fn capi_modules_import_no_circle() {
    assert_acyclic("capi");
}

#[test]
fn the_scan_finds_a_circle() {
    let graph: Graph = [("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")]
        .into_iter()
        .map(|(from, to)| (from.to_owned(), BTreeSet::from([to.to_owned()])))
        .collect();
    assert_eq!(find_circle(&graph).unwrap(), ["a", "b", "c", "a"]);
    let runtime = module_graph("runtime");
    assert!(runtime["stream"].contains("shared"), "{runtime:?}");
}
