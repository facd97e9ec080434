//! Drafts for speculative decoding, looked up in the text so far.
//!
//! A summary copies whole phrases of its article, and a rendering repeats
//! names, numbers and its own phrases. When the last few tokens of the
//! prompt and reply occurred earlier, the tokens that followed them there
//! are a likely continuation ("prompt lookup decoding"). The model checks
//! such a draft in one step ([`super::qwen2::Qwen2::forward_batch`]) and
//! greedy decoding keeps the drafted tokens it would have chosen anyway, so
//! the reply is the same, only sooner; a wrong draft costs the rows it added
//! to that step.

/// Longest and shortest suffix looked up: longer matches predict better,
/// and a single token (a comma, "the") predicts too little to pay for the
/// rows it adds.
const LONGEST_MATCH: usize = 4;
const SHORTEST_MATCH: usize = 2;

/// The tokens that followed the latest earlier occurrence of the longest
/// suffix of `context` (of 4 down to 2 tokens) that occurred before, at most
/// `max` of them; empty when no suffix did.
pub fn lookup(context: &[u32], max: usize) -> &[u32] {
    if max == 0 {
        return &[];
    }
    for n in (SHORTEST_MATCH..=LONGEST_MATCH).rev() {
        if context.len() <= n {
            continue;
        }
        let suffix = &context[context.len() - n..];
        // Latest first: the nearest context is the likeliest to continue.
        let found = (0..context.len() - n).rev().find(|&start| &context[start..start + n] == suffix);
        if let Some(start) = found {
            let from = start + n;
            return &context[from..(from + max).min(context.len())];
        }
    }
    &[]
}

#[cfg(test)]
mod tests {
    use super::lookup;

    #[test]
    fn continues_the_latest_earlier_occurrence_of_the_longest_suffix() {
        let context = [1, 2, 3, 4, 5, 6, 9, 3, 4, 7, 8, 2, 3, 4];
        // Suffix [2, 3, 4] occurred at 1..4, followed by 5, 6.
        assert_eq!(lookup(&context, 2), &[5, 6]);
        // Suffix [3, 4] alone would have matched later (7, 8 follow it).
        assert_eq!(lookup(&[9, 3, 4, 7, 8, 1, 3, 4], 3), &[7, 8, 1]);
    }

    #[test]
    fn no_draft_without_an_earlier_match_of_two_tokens() {
        assert!(lookup(&[1, 2, 3, 4, 5], 4).is_empty());
        // A single repeated token is not enough.
        assert!(lookup(&[1, 2, 3, 9, 1], 4).is_empty());
        assert!(lookup(&[1, 2, 1, 2], 0).is_empty());
    }

    #[test]
    fn draft_stops_at_the_end_of_the_context() {
        // [1, 2] occurs at 0, followed by [1, 2] up to the end.
        assert_eq!(lookup(&[1, 2, 1, 2], 8), &[1, 2]);
    }
}
