//! Reading one member of a JSON body whose signature has passed, without parsing it whole.

/// The integer value of the last member named `quoted_name` (quotes included) in a JSON body
/// whose signature has passed.
///
/// Parsing the whole body to find one member costs about as much as the MAC itself; this
/// finds the name by looking back from the end. It is exact for bodies like Linear's: a quoted
/// name followed by `:` cannot occur inside a JSON string (its quotes would be escaped), and
/// Linear writes `webhookTimestamp` among the last top-level members, after `data`, so the
/// last occurrence is the top-level one even if `data` held a member of that name. The body
/// is authentic by then: only Linear could have written it.
pub(crate) fn last_member_integer(body: &[u8], quoted_name: &[u8]) -> Option<u64> {
    // From the last quote backwards: the member sits a few quotes from the end, so this looks
    // at a handful of positions (a reverse substring search costs ten times more per call).
    let at = memchr::memrchr_iter(b'"', body)
        .map(|end| end + 1)
        .find(|&end| body[..end].ends_with(quoted_name))?;
    let rest = body[at..].trim_ascii_start();
    let rest = rest.strip_prefix(b":")?.trim_ascii_start();
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let after = rest.get(digits).copied();
    if !matches!(after, Some(b',' | b'}' | b' ' | b'\t' | b'\r' | b'\n')) {
        return None;
    }
    crate::verify::parse_unix_seconds(&rest[..digits])
}
