//! Input-token counts for `POST /v1/messages/count_tokens`.
//!
//! What is counted is the *translated* request — exactly what codexd would
//! send upstream — with the o200k_base tokenizer the GPT-5 / Codex models
//! use. `tiktoken-rs` compiles the vocabulary into the binary, so counting
//! needs no network; the tokenizer is built once, on first use ([`count_text`]).
//!
//! tiktoken-rs keeps the 200 000-token vocabulary three times over (an
//! encoder map, a decoder map and a sorted list, each entry its own heap
//! allocation): ≈ 46 MiB that stayed resident after the first count. So its
//! `CoreBPE` is only the source: [`Bpe::build`] copies each token's bytes
//! into one block indexed by one open-addressing table of ranks (≈ 3.2 MiB),
//! drops the `CoreBPE`, and gives the freed pages back to the system. Counting is tiktoken's own
//! byte-pair merge over that map, so the counts are the same (tested).
//!
//! | part of the request | tokens |
//! |---|---|
//! | `instructions` | its text + [`MESSAGE_OVERHEAD`] |
//! | each `input` item | [`MESSAGE_OVERHEAD`] + its text: message text parts, a function call's name and arguments, a function output's text, a reasoning item's summary (never its encrypted content), a web search call's action JSON |
//! | each image part | [`image_tokens`] of its size, [`LOW_DETAIL_IMAGE_TOKENS`] for `detail: low`, [`FLAT_IMAGE_TOKENS`] when the size cannot be read (URLs, unknown formats) |
//! | each tool | [`TOOL_OVERHEAD`] + its name, description and compact JSON parameters |
//! | any tools at all | [`TOOLS_OVERHEAD`], once |
//! | the reply | [`REPLY_PRIMING`], once |
//!
//! The overheads follow OpenAI's published recipe for counting chat-format
//! tokens (3 per message, 3 to prime the reply, 7 per function and 12 for
//! the function block on the o200k models). The backend's own count differs
//! by a few tokens per item; the estimate is meant for budgeting, like
//! Anthropic's own endpoint.
//!
//! Nothing is remembered between calls: Claude Code's `count_tokens` bursts
//! (about 26 calls on `/context`) carry small bodies, a piece of the system
//! prompt or a tool each, not the conversation.

use std::collections::BinaryHeap;
use std::sync::LazyLock;

use base64::Engine as _;

use crate::codex::request::{ContentPart, FunctionOutput, InputItem, ResponsesRequest, Tool};

/// Tokens around every message-like item (role and delimiters).
pub const MESSAGE_OVERHEAD: u64 = 3;
/// Tokens that prime the model's reply, once per request.
pub const REPLY_PRIMING: u64 = 3;
/// Tokens around each tool definition.
pub const TOOL_OVERHEAD: u64 = 7;
/// Tokens for the tool block, once when any tool is offered.
pub const TOOLS_OVERHEAD: u64 = 12;

/// An image whose size cannot be read (a URL, an unknown format) costs what
/// a 1024×1024 image costs: 85 + 170 × 4 tiles.
pub const FLAT_IMAGE_TOKENS: u64 = 765;
/// An image sent with `detail: low`, whatever its size.
pub const LOW_DETAIL_IMAGE_TOKENS: u64 = 85;
/// The base cost of a `detail: auto`/`high` image, before its tiles.
const IMAGE_BASE_TOKENS: u64 = 85;
/// The cost of each 512×512 tile of a `detail: auto`/`high` image.
const IMAGE_TILE_TOKENS: u64 = 170;
/// An image is first scaled down to fit in a square of this side…
const IMAGE_FIT_SIDE: u64 = 2048;
/// …then scaled down until its shortest side is at most this long…
const IMAGE_SHORT_SIDE: u64 = 768;
/// …then cut into square tiles of this side.
const IMAGE_TILE_SIDE: u64 = 512;

/// How much of a base64 image is decoded, in turn, to find its size: image
/// headers are tiny, but a JPEG's size can sit behind large metadata.
const HEADER_PREFIXES: [usize; 3] = [1 << 10, 1 << 16, 1 << 20];

/// The o200k_base tokenizer, built on first use; `None` if it could not be
/// built (a broken build: the vocabulary is compiled in).
static O200K: LazyLock<Option<Bpe>> = LazyLock::new(|| match Bpe::build() {
    Ok(bpe) => Some(bpe),
    Err(err) => {
        tracing::error!(error = %err, "cannot build the o200k_base tokenizer; token counts are estimates (4 bytes a token)");
        None
    }
});

/// A byte-pair encoder over a compact vocabulary (≈ 3.2 MiB in all).
pub(crate) struct Bpe {
    /// o200k_base's pre-tokenizer: text is split into pieces, each encoded alone.
    pieces: fancy_regex::Regex,
    vocabulary: Vocabulary,
}

/// Every token's bytes in one block, found by an open-addressing table of
/// ranks (a `HashMap<Vec<u8>, u32>` costs ≈ 60 bytes a token; this ≈ 16).
struct Vocabulary {
    /// The tokens' bytes, in rank order.
    bytes: Vec<u8>,
    /// `ends[rank]`: where the token ends in `bytes`; it starts where the
    /// previous rank ends. A rank that is no token is empty.
    ends: Vec<u32>,
    /// Linear probing by the hash of a token's bytes. A slot holds the rank
    /// in its low [`RANK_BITS`] and the hash's top bits above them, so a
    /// probe only reads `bytes` when those match; [`EMPTY`] is a free slot.
    slots: Vec<u32>,
    hasher: foldhash::fast::FixedState,
}

/// Ranks fit in 18 bits (o200k_base has ≈ 200 000 tokens); the other 14
/// bits of a slot are a tag from the hash.
const RANK_BITS: u32 = 18;
const RANK_MASK: u32 = (1 << RANK_BITS) - 1;
const EMPTY: u32 = u32::MAX;

impl Vocabulary {
    fn new(tokens: impl Iterator<Item = (u32, Vec<u8>)>) -> Vocabulary {
        let mut bytes = Vec::new();
        let mut ends: Vec<u32> = Vec::new();
        for (rank, token) in tokens.filter(|(rank, _)| *rank < RANK_MASK) {
            let rank = rank as usize;
            if ends.len() <= rank {
                ends.resize(rank + 1, bytes.len() as u32);
            }
            bytes.extend_from_slice(&token);
            ends[rank] = bytes.len() as u32;
        }
        bytes.shrink_to_fit();
        ends.shrink_to_fit();
        // A load of about three quarters: 1 MiB of slots for o200k_base.
        let mut vocabulary = Vocabulary {
            bytes,
            slots: vec![EMPTY; ends.len().next_power_of_two()],
            ends,
            hasher: foldhash::fast::FixedState::default(),
        };
        for rank in 0..vocabulary.ends.len() as u32 {
            let token = vocabulary.token(rank);
            if token.is_empty() {
                continue;
            }
            let (mut slot, tag) = vocabulary.home(token);
            while vocabulary.slots[slot] != EMPTY {
                slot = (slot + 1) & (vocabulary.slots.len() - 1);
            }
            vocabulary.slots[slot] = tag | rank;
        }
        vocabulary
    }

    fn token(&self, rank: u32) -> &[u8] {
        let rank = rank as usize;
        let start = if rank == 0 { 0 } else { self.ends[rank - 1] as usize };
        &self.bytes[start..self.ends[rank] as usize]
    }

    /// The first slot to look at for `bytes`, and the tag its slot carries.
    fn home(&self, bytes: &[u8]) -> (usize, u32) {
        use std::hash::BuildHasher;
        let hash = self.hasher.hash_one(bytes);
        (hash as usize & (self.slots.len() - 1), (hash >> 32) as u32 & !RANK_MASK)
    }

    fn get(&self, bytes: &[u8]) -> Option<u32> {
        let (mut slot, tag) = self.home(bytes);
        loop {
            match self.slots[slot] {
                EMPTY => return None,
                entry if entry & !RANK_MASK == tag && self.token(entry & RANK_MASK) == bytes => {
                    return Some(entry & RANK_MASK)
                }
                _ => slot = (slot + 1) & (self.slots.len() - 1),
            }
        }
    }
}

/// Above this length a piece is merged with a heap, as tiktoken does, so a
/// long run of letters costs O(n log n), not O(n²).
const LARGE_PIECE: usize = 100;

impl Bpe {
    /// Copy o200k_base out of tiktoken-rs into the compact form and free the rest.
    fn build() -> anyhow::Result<Bpe> {
        let vocabulary = {
            let core = tiktoken_rs::o200k_base()?;
            let special = core.special_tokens();
            let tokens = (0..210_000u32).filter_map(|rank| {
                let bytes = core.decode_bytes(&[rank]).ok()?;
                // Special tokens are counted as plain text, like `encode_ordinary`.
                let is_special = std::str::from_utf8(&bytes).is_ok_and(|text| special.contains(text));
                (!is_special).then_some((rank, bytes))
            });
            Vocabulary::new(tokens)
        };
        release_freed_memory();
        let pieces = fancy_regex::Regex::new(tiktoken_rs::O200K_BASE_PAT_STR)?;
        Ok(Bpe { pieces, vocabulary })
    }

    /// The tokens of `text` read as plain text (tiktoken's `encode_ordinary`).
    pub(crate) fn encode(&self, text: &str) -> Vec<u32> {
        let mut tokens = Vec::new();
        for piece in self.pieces.find_iter(text) {
            let Ok(piece) = piece else {
                // The pattern gave up (backtracking limit): count its bytes.
                tokens.extend(std::iter::repeat_n(u32::MAX, text.len().div_ceil(4)));
                break;
            };
            let piece = piece.as_str().as_bytes();
            match self.vocabulary.get(piece) {
                Some(rank) => tokens.push(rank),
                None if piece.len() < LARGE_PIECE => tokens.extend(self.merge_small(piece)),
                None => tokens.extend(self.merge_large(piece)),
            }
        }
        tokens
    }

    fn rank(&self, bytes: &[u8]) -> u32 {
        self.vocabulary.get(bytes).unwrap_or(u32::MAX)
    }

    /// tiktoken's `_byte_pair_merge`: repeatedly merge the adjacent pair of
    /// lowest rank.
    fn merge_small(&self, piece: &[u8]) -> Vec<u32> {
        // (start, rank of the pair starting here)
        let mut parts: Vec<(usize, u32)> = Vec::with_capacity(piece.len() + 1);
        let mut min = (u32::MAX, usize::MAX);
        for i in 0..piece.len() - 1 {
            let rank = self.rank(&piece[i..i + 2]);
            if rank < min.0 {
                min = (rank, i);
            }
            parts.push((i, rank));
        }
        parts.push((piece.len() - 1, u32::MAX));
        parts.push((piece.len(), u32::MAX));
        let pair_rank = |parts: &Vec<(usize, u32)>, i: usize| {
            if i + 3 < parts.len() {
                self.rank(&piece[parts[i].0..parts[i + 3].0])
            } else {
                u32::MAX
            }
        };
        while min.0 != u32::MAX {
            let i = min.1;
            if i > 0 {
                parts[i - 1].1 = pair_rank(&parts, i - 1);
            }
            parts[i].1 = pair_rank(&parts, i);
            parts.remove(i + 1);
            min = (u32::MAX, usize::MAX);
            for (i, &(_, rank)) in parts[..parts.len() - 1].iter().enumerate() {
                if rank < min.0 {
                    min = (rank, i);
                }
            }
        }
        parts.windows(2).map(|pair| self.rank(&piece[pair[0].0..pair[1].0])).collect()
    }

    /// tiktoken's `_byte_pair_merge_large`: the same merges, lowest rank
    /// first (leftmost on a tie), found with a heap.
    fn merge_large(&self, piece: &[u8]) -> Vec<u32> {
        #[derive(PartialEq, Eq)]
        struct Merge {
            start: usize,
            rank: u32,
        }
        impl Ord for Merge {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                other.rank.cmp(&self.rank).then_with(|| other.start.cmp(&self.start))
            }
        }
        impl PartialOrd for Merge {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }
        struct Part {
            prev: usize,
            end: usize,
            next_end: usize,
            next_rank: u32,
        }
        let mut state = Vec::with_capacity(piece.len());
        state.push(Part { prev: usize::MAX, end: 1, next_end: 2, next_rank: u32::MAX });
        let mut heap = BinaryHeap::with_capacity(piece.len());
        for i in 0..piece.len() - 1 {
            if let Some(rank) = self.vocabulary.get(&piece[i..i + 2]) {
                heap.push(Merge { start: i, rank });
                state[i].next_rank = rank;
            }
            state.push(Part { prev: i, end: i + 2, next_end: i + 3, next_rank: u32::MAX });
        }
        let potential = |state: &mut Vec<Part>, heap: &mut BinaryHeap<Merge>, start: usize, next_end: usize| {
            state[start].next_end = next_end;
            state[start].next_rank = u32::MAX;
            if next_end <= piece.len() {
                if let Some(rank) = self.vocabulary.get(&piece[start..next_end]) {
                    heap.push(Merge { start, rank });
                    state[start].next_rank = rank;
                }
            }
        };
        while let Some(left) = heap.pop() {
            if left.rank == u32::MAX {
                break;
            }
            if left.rank != state[left.start].next_rank {
                continue; // invalidated by an earlier merge
            }
            let left_start = left.start;
            let right_start = state[left_start].end;
            let right_end = state[left_start].next_end;
            let right_next_end = state[right_start].next_end;
            state[left_start].end = right_end;
            potential(&mut state, &mut heap, left_start, right_next_end);
            if right_end < state.len() {
                state[right_end].prev = left_start;
            }
            if left_start > 0 {
                let prev_start = state[left_start].prev;
                potential(&mut state, &mut heap, prev_start, right_end);
            }
            state[right_start].next_rank = u32::MAX;
        }
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < state.len() {
            tokens.push(self.rank(&piece[i..state[i].end]));
            i = state[i].end;
        }
        tokens
    }
}

/// Give the pages of freed allocations back to the system. The vocabulary's
/// first form is ≈ 600 000 small allocations; freed, they would stay in
/// glibc's heaps (and in the daemon's RSS) for good.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: malloc_trim only returns free memory of glibc's own heaps
        // to the kernel; it takes no pointers and is safe to call any time.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// The input tokens of the request codexd would send upstream (see the
/// module docs for what is counted).
pub fn count_request(request: &ResponsesRequest) -> u64 {
    let instructions = MESSAGE_OVERHEAD + count_text(&request.instructions);
    let input: u64 = request.input.iter().map(count_item).sum();
    instructions + input + count_tools(&request.tools) + REPLY_PRIMING
}

/// Tokens of one `input` item, its [`MESSAGE_OVERHEAD`] included.
pub fn count_item(item: &InputItem) -> u64 {
    let content = match item {
        InputItem::Message { content, .. } => count_parts(content),
        InputItem::FunctionCall { name, arguments, .. } => count_text(name) + count_text(arguments),
        InputItem::FunctionCallOutput { output: FunctionOutput::Text(text), .. } => count_text(text),
        InputItem::FunctionCallOutput { output: FunctionOutput::Parts(parts), .. } => count_parts(parts),
        InputItem::Reasoning { summary, .. } => summary.iter().map(|part| count_text(&part.text)).sum(),
        InputItem::WebSearchCall { fields } => fields.get("action").map_or(0, |action| count_text(&action.to_string())),
    };
    MESSAGE_OVERHEAD + content
}

/// Tokens of the tool definitions, [`TOOLS_OVERHEAD`] included; 0 for none.
pub fn count_tools(tools: &[Tool]) -> u64 {
    if tools.is_empty() {
        return 0;
    }
    let definitions: u64 = tools
        .iter()
        .map(|tool| {
            TOOL_OVERHEAD
                + match tool {
                    Tool::Function { name, description, parameters, .. } => {
                        count_text(name) + count_text(description) + count_text(parameters.get())
                    }
                    Tool::WebSearch { .. } => 0,
                }
        })
        .sum();
    TOOLS_OVERHEAD + definitions
}

/// o200k_base tokens of `text`, read as plain text: a special-token string
/// such as `<|endoftext|>` in it counts as the ordinary text it is.
pub fn count_text(text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    match O200K.as_ref() {
        Some(bpe) => bpe.encode(text).len() as u64,
        None => text.len().div_ceil(4) as u64,
    }
}

fn count_parts(parts: &[ContentPart]) -> u64 {
    parts.iter().map(count_part).sum()
}

fn count_part(part: &ContentPart) -> u64 {
    match part {
        ContentPart::InputText { text } | ContentPart::OutputText { text } => count_text(text),
        ContentPart::InputImage { image_url, detail } => image_part_tokens(image_url, detail.as_deref()),
    }
}

/// Tokens of an `input_image` part: [`LOW_DETAIL_IMAGE_TOKENS`] for
/// `detail: low`; else [`image_tokens`] of the size read from a base64
/// `data:` URL, or [`FLAT_IMAGE_TOKENS`] when there is no size to read.
pub fn image_part_tokens(image_url: &str, detail: Option<&str>) -> u64 {
    if detail == Some("low") {
        return LOW_DETAIL_IMAGE_TOKENS;
    }
    match data_url_dimensions(image_url) {
        Some((width, height)) => image_tokens(width, height),
        None => FLAT_IMAGE_TOKENS,
    }
}

/// OpenAI's cost of a `detail: auto`/`high` image of `width`×`height`
/// pixels: scale it down to fit in 2048×2048, then down until its shortest
/// side is at most 768 (sizes rounded to whole pixels; small images are
/// never scaled up), then count 512×512 tiles: 85 + 170 per tile. A
/// 1024×1024 image costs 765; a 2048×4096 one 1105.
pub fn image_tokens(width: u64, height: u64) -> u64 {
    let (width, height) = (width.max(1), height.max(1));
    let (width, height) = scale_down(width, height, width.max(height), IMAGE_FIT_SIDE);
    let (width, height) = scale_down(width, height, width.min(height), IMAGE_SHORT_SIDE);
    let tiles = width.div_ceil(IMAGE_TILE_SIDE) * height.div_ceil(IMAGE_TILE_SIDE);
    IMAGE_BASE_TOKENS + IMAGE_TILE_TOKENS * tiles
}

/// `width`×`height` scaled by `limit / side` when `side` exceeds `limit`.
fn scale_down(width: u64, height: u64, side: u64, limit: u64) -> (u64, u64) {
    if side <= limit {
        return (width, height);
    }
    let scale = |length: u64| ((length * limit + side / 2) / side).max(1);
    (scale(width), scale(height))
}

/// The pixel size of the image in a `data:…;base64,…` URL, read from its
/// header (PNG, JPEG, GIF or WebP); `None` for other URLs, other formats
/// and data that does not decode.
pub fn data_url_dimensions(url: &str) -> Option<(u64, u64)> {
    let (meta, data) = url.strip_prefix("data:")?.split_once(',')?;
    if !meta.ends_with(";base64") {
        return None;
    }
    // Decode as little as finds the size: a growing prefix, then the whole.
    for prefix in HEADER_PREFIXES.into_iter().filter(|&p| p < data.len()).chain([data.len()]) {
        // Whole 4-character groups only, so a prefix never needs padding.
        let cut = if prefix == data.len() { prefix } else { prefix - prefix % 4 };
        let bytes = base64::engine::general_purpose::STANDARD.decode(data.get(..cut)?).ok()?;
        match imagesize::blob_size(&bytes) {
            Ok(size) => return Some((size.width as u64, size.height as u64)),
            Err(imagesize::ImageError::NotSupported) => return None,
            Err(_) => continue,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anthropic::request::parse_count_tokens_request;
    use crate::codex::request::{MessageRole, SummaryText};
    use crate::config::Settings;
    use crate::translate::request::translate_request;
    use serde_json::json;

    /// Counts from Python `tiktoken` 0.14 (`o200k_base`, vocabulary sha256
    /// 446a9538…1a2d, the same file this crate compiles in), an independent
    /// implementation of the same encoding.
    const KNOWN_COUNTS: [(&str, u64); 11] = [
        ("hello world", 2),
        ("Hello, world!", 4),
        ("The quick brown fox jumps over the lazy dog.", 10),
        ("今天天气很好，我们去公园散步吧。", 12),
        ("東京は日本の首都です。", 8),
        ("こんにちは世界", 2),
        ("<|endoftext|>", 7),
        (r#"{"command":"ls -la"}"#, 7),
        ("Bash", 2),
        ("Run a command", 3),
        ("    fn main() {\n        println!(\"hi\");\n    }\n", 12),
    ];

    #[test]
    fn text_counts_match_tiktoken() {
        assert_eq!(count_text(""), 0);
        for (text, expected) in KNOWN_COUNTS {
            assert_eq!(count_text(text), expected, "{text:?}");
        }
    }

    #[test]
    fn the_compact_tokenizer_encodes_as_tiktoken_does() {
        let bpe = O200K.as_ref().expect("o200k_base builds from the compiled-in vocabulary");
        let reference = tiktoken_rs::o200k_base().unwrap();
        let long_word = "a".repeat(5000) + &"xyzzy".repeat(300);
        let request = include_str!("../tests/fixtures/requests/claude_code_large.json");
        let texts = KNOWN_COUNTS.iter().map(|(text, _)| *text).chain([long_word.as_str(), request]);
        for text in texts {
            assert_eq!(bpe.encode(text), reference.encode_ordinary(text), "{}", &text[..text.len().min(40)]);
        }
        // "hello world" is two well-known o200k tokens.
        assert_eq!(bpe.encode("hello world"), [24912, 2375]);
    }

    #[test]
    fn image_cost_table() {
        let table = [
            ((1024, 1024), 765),  // → 768×768, 4 tiles
            ((2048, 4096), 1105), // → 1024×2048 → 768×1536, 6 tiles
            ((4096, 8192), 1105), // same shape, twice as big
            ((1920, 1080), 1105), // → 1365×768, 3×2 tiles
            ((768, 768), 765),    // not scaled, 2×2 tiles
            ((512, 512), 255),    // 1 tile
            ((513, 512), 425),    // 2 tiles
            ((100, 100), 255),    // never scaled up
            ((3000, 200), 765),   // → 2048×137, 4×1 tiles
            ((1, 1), 255),
            ((0, 0), 255),
        ];
        for ((width, height), expected) in table {
            assert_eq!(image_tokens(width, height), expected, "{width}×{height}");
        }
    }

    type ImageCase = (&'static str, &'static [u8], (u64, u64), u64);

    fn data_url(media_type: &str, bytes: &[u8]) -> String {
        format!("data:{media_type};base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    #[test]
    fn image_sizes_are_read_from_base64_headers() {
        // (media type, file, size, tokens)
        let table: [ImageCase; 4] = [
            ("image/png", include_bytes!("../tests/fixtures/images/red-1024x768.png"), (1024, 768), 765),
            (
                "image/jpeg",
                include_bytes!("../tests/fixtures/images/green-2000x1000-big-header.jpg"),
                (2000, 1000),
                1105,
            ),
            ("image/gif", include_bytes!("../tests/fixtures/images/blank-300x200.gif"), (300, 200), 255),
            ("image/webp", include_bytes!("../tests/fixtures/images/blue-1100x400.webp"), (1100, 400), 595),
        ];
        for (media_type, bytes, size, tokens) in table {
            let url = data_url(media_type, bytes);
            assert_eq!(data_url_dimensions(&url), Some(size), "{media_type}");
            assert_eq!(image_part_tokens(&url, None), tokens, "{media_type}");
            assert_eq!(image_part_tokens(&url, Some("auto")), tokens, "{media_type}");
            assert_eq!(image_part_tokens(&url, Some("low")), LOW_DETAIL_IMAGE_TOKENS, "{media_type}");
        }
    }

    #[test]
    fn unreadable_images_cost_the_flat_rate() {
        let png = include_bytes!("../tests/fixtures/images/red-1024x768.png");
        let truncated = data_url("image/png", &png[..10]);
        let table = [
            "https://example.com/cat.png".to_owned(),
            data_url("image/png", b"not an image at all, just text"),
            "data:image/png;base64,@@@not base64@@@".to_owned(),
            "data:image/png,rawbytes".to_owned(),
            "data:image/png;base64".to_owned(),
            truncated,
        ];
        for url in table {
            assert_eq!(data_url_dimensions(&url), None, "{url}");
            assert_eq!(image_part_tokens(&url, None), FLAT_IMAGE_TOKENS, "{url}");
        }
    }

    fn request(body: serde_json::Value) -> ResponsesRequest {
        let request = parse_count_tokens_request(body.to_string().as_bytes()).unwrap();
        translate_request(&request, &Settings::defaults()).unwrap()
    }

    #[test]
    fn a_request_is_the_sum_of_its_parts() {
        let counted = count_request(&request(json!({
            "model": "claude-sonnet-4-5",
            "system": "hello world",
            "messages": [{"role": "user", "content": "Hello, world!"}]
        })));
        // instructions 2 + message 4, each with its overhead, and the reply.
        assert_eq!(counted, (MESSAGE_OVERHEAD + 2) + (MESSAGE_OVERHEAD + 4) + REPLY_PRIMING);
    }

    const PARAMETERS_JSON: &str =
        r#"{"type":"object","properties":{"command":{"type":"string"}},"required":["command"]}"#;

    #[test]
    fn a_tool_heavy_request_counts_definitions_calls_and_outputs() {
        let parameters = json!({"type":"object","properties":{"command":{"type":"string"}},"required":["command"]});
        let translated = request(json!({
            "model": "claude-sonnet-4-5",
            "system": "hello world",
            "tools": [
                {"name": "Bash", "description": "Run a command", "input_schema": parameters},
                {"type": "web_search_20250305", "name": "web_search"}
            ],
            "messages": [
                {"role": "user", "content": "Hello, world!"},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "ls -la"}}
                ]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "hello world"}]}
            ]
        }));
        let Tool::Function { parameters, .. } = &translated.tools[0] else { panic!("Bash is a function") };
        let parameters = parameters.get();
        assert_eq!(parameters, PARAMETERS_JSON);
        assert_eq!(count_text(&parameters), 19, "tiktoken, as above");
        let tools = TOOLS_OVERHEAD + (TOOL_OVERHEAD + 2 + 3 + 19) + TOOL_OVERHEAD;
        let input = (MESSAGE_OVERHEAD + 4) + (MESSAGE_OVERHEAD + 2 + 7) + (MESSAGE_OVERHEAD + 2);
        assert_eq!(count_tools(&translated.tools), tools);
        assert_eq!(count_request(&translated), (MESSAGE_OVERHEAD + 2) + input + tools + REPLY_PRIMING);
    }

    #[test]
    fn reasoning_counts_its_summary_not_its_encrypted_content() {
        let with_secret = |encrypted: &str| InputItem::Reasoning {
            summary: vec![SummaryText { text: "hello world".into() }],
            encrypted_content: Some(encrypted.into()),
        };
        assert_eq!(count_item(&with_secret("gAAAA")), MESSAGE_OVERHEAD + 2);
        assert_eq!(count_item(&with_secret(&"gAAAA".repeat(10_000))), MESSAGE_OVERHEAD + 2);
        let message = InputItem::Message {
            role: MessageRole::Assistant,
            content: vec![ContentPart::OutputText { text: "hello world".into() }],
            phase: None,
        };
        assert_eq!(count_item(&message), MESSAGE_OVERHEAD + 2);
    }

    #[test]
    fn images_in_messages_and_tool_results_are_counted() {
        let gif = data_url("image/gif", include_bytes!("../tests/fixtures/images/blank-300x200.gif"));
        let (media_type, data) = gif.trim_start_matches("data:").split_once(";base64,").unwrap();
        let image = json!({"type":"image","source":{"type":"base64","media_type":media_type,"data":data}});
        let url_image = json!({"type":"image","source":{"type":"url","url":"https://example.com/a.png"}});
        let translated = request(json!({
            "model": "m",
            "messages": [
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Shot", "input": {}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": [image.clone()]},
                    image,
                    url_image
                ]}
            ]
        }));
        let images: u64 = translated.input.iter().map(|entry| count_item(entry)).sum::<u64>()
            - translated.input.iter().map(|item| count_item(&without_images(item))).sum::<u64>();
        assert_eq!(images, 255 + 255 + FLAT_IMAGE_TOKENS, "two 300×200 GIFs (1 tile each) and one URL");
    }

    /// `item` with its image parts removed.
    fn without_images(item: &InputItem) -> InputItem {
        let keep = |parts: &[ContentPart]| -> Vec<ContentPart> {
            parts.iter().filter(|part| !matches!(part, ContentPart::InputImage { .. })).cloned().collect()
        };
        match item {
            InputItem::Message { role, content, phase } => {
                InputItem::Message { role: *role, content: keep(content), phase: *phase }
            }
            InputItem::FunctionCallOutput { call_id, output: FunctionOutput::Parts(parts) } => {
                InputItem::FunctionCallOutput { call_id: call_id.clone(), output: FunctionOutput::Parts(keep(parts)) }
            }
            other => other.clone(),
        }
    }
}
