//! "Did you mean": the likeliest of the names there are, for a name that is not one
//! of them (a column, a spec key, an interface, a destination). Below everything
//! that names things.

/// The closest of `candidates` to `name`, when close enough to be a typo.
pub fn closest<'a, S: AsRef<str>>(name: &str, candidates: &'a [S]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (levenshtein(name, c.as_ref()), c.as_ref()))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// ` (did you mean `x`?)`, or nothing: to follow the message about `name`.
pub fn hint<S: AsRef<str>>(name: &str, candidates: &[S]) -> String {
    closest(name, candidates)
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default()
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_gets_its_name_anything_else_nothing() {
        assert_eq!(hint("stirp", &["strip", "trim"]), " (did you mean `strip`?)");
        assert_eq!(hint("CM01", &["CM001".to_string()]), " (did you mean `CM001`?)");
        assert_eq!(hint("zzzzzz", &["strip"]), "");
        assert_eq!(closest::<&str>("x", &[]), None);
    }
}
