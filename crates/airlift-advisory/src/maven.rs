//! Maven's version order: the algorithm of Maven 3.x's `ComparableVersion`,
//! which OSV's Maven ecosystem specifies.
//!
//! A version is lower-cased and split into items on '.', '-' and every
//! transition between digits and non-digits. Numbers compare as numbers;
//! other items are qualifiers, ordered
//! `alpha`/`a` < `beta`/`b` < `milestone`/`m` < `rc`/`cr` < `snapshot`
//! < "" (a release, also `ga`, `final`, `release`) < `sp` < any other
//! qualifier (lexically among themselves); `a`, `b` and `m` are aliases
//! only when a digit follows them. A '-', a transition from digits to
//! letters, and a qualifier directly followed by a digit each open a
//! sub-list, which is the last item of the list it opens in; `1.0.0.X1`
//! therefore sorts like `1-X1`. Trailing "null" items (zero, a release
//! qualifier, an empty sub-list) of every list are removed, so
//! "1" == "1.0" == "1.0.0" == "1-ga". Items then compare pairwise:
//! number > sub-list > qualifier, and against a missing item as the rest
//! of the version compares to nothing.
//!
//! The tree is a chain (each list holds at most one sub-list, last), so it
//! is kept flat: the scalar items of each list followed by a marker for its
//! sub-list. Items are ranges of the input, and the list lives on the stack
//! unless a version has more than [`INLINE_ITEMS`] items.
//!
//! Boundary with Maven: Maven's comparisons have cycles for a few odd
//! versions ("1.0.alpha.1" < "1" < "1.sp.1" < "1.0.alpha.1"), which no
//! sort can settle; this order ranks two items first by how the rest of
//! each version compares to nothing (see [`compare_lists`]), which agrees
//! with Maven everywhere outside such cycles and makes the order total.
//! Digits are the ASCII digits (Maven 3.x also takes other Unicode decimal
//! digits, as Maven 4 no longer does), and lower-casing is per character
//! (Java's final-sigma rule is not applied).

use std::cmp::Ordering;

use crate::VersionOrder;

/// Maven's `ComparableVersion` order (Maven 3.x, as OSV's Maven ecosystem
/// specifies): '.', '-' and digit/letter transitions separate items;
/// qualifiers order alpha/a < beta/b < milestone/m < rc/cr < snapshot <
/// "" (release, also ga, final, release) < sp < unknown qualifiers (ordered
/// lexically); trailing zero and release items are trimmed ("1.0" == "1" ==
/// "1.0.0", "1-ga" == "1"); '-' starts a sub-list; case-insensitive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MavenOrder;

impl VersionOrder for MavenOrder {
    fn compare(&self, first: &str, second: &str) -> Ordering {
        let first_items = Items::parse(first);
        let second_items = Items::parse(second);
        compare_lists(
            first,
            first_items.as_slice(),
            second,
            second_items.as_slice(),
        )
    }
}

/// How many items a version may have before its list moves to the heap;
/// real versions have fewer than ten.
const INLINE_ITEMS: usize = 24;

/// The well-known qualifiers, in Maven's order; every other qualifier is
/// `Unknown` and sorts after them by its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    Alpha,
    Beta,
    Milestone,
    ReleaseCandidate,
    Snapshot,
    /// No qualifier: "", "ga", "final", "release".
    Release,
    ServicePack,
    Unknown,
}

#[derive(Clone, Copy, Debug)]
enum Item {
    /// A number's digits without leading zeros; an empty range is zero.
    Number { start: usize, end: usize },
    /// A qualifier: its text in the version and its rank.
    Qualifier {
        start: usize,
        end: usize,
        rank: Rank,
    },
    /// The sub-list that ends the current list; the items after the
    /// marker are the sub-list's.
    SubList,
}

impl Item {
    /// Maven's `isNull`: the items that normalization trims and that
    /// compare equal to a missing item.
    fn is_null(self) -> bool {
        match self {
            Item::Number { start, end } => start == end,
            Item::Qualifier { rank, .. } => rank == Rank::Release,
            Item::SubList => false,
        }
    }

    /// How this item compares to a missing one (`compareTo(null)`); a
    /// sub-list is decided by its own items, which follow its marker.
    fn against_missing(self) -> Ordering {
        match self {
            Item::Number { start, end } => {
                if start == end {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
            Item::Qualifier { rank, .. } => rank.cmp(&Rank::Release),
            Item::SubList => Ordering::Equal,
        }
    }
}

/// The flattened item tree of one version: on the stack for ordinary
/// versions, on the heap past [`INLINE_ITEMS`].
struct Items {
    inline: [Item; INLINE_ITEMS],
    inline_length: usize,
    heap: Vec<Item>,
    on_heap: bool,
}

impl Items {
    fn new() -> Self {
        Self {
            inline: [Item::SubList; INLINE_ITEMS],
            inline_length: 0,
            heap: Vec::new(),
            on_heap: false,
        }
    }

    fn as_slice(&self) -> &[Item] {
        if self.on_heap {
            &self.heap
        } else {
            &self.inline[..self.inline_length]
        }
    }

    fn len(&self) -> usize {
        self.as_slice().len()
    }

    fn last(&self) -> Option<Item> {
        self.as_slice().last().copied()
    }

    fn push(&mut self, item: Item) {
        if self.on_heap {
            self.heap.push(item);
        } else if self.inline_length < INLINE_ITEMS {
            self.inline[self.inline_length] = item;
            self.inline_length += 1;
        } else {
            self.heap.reserve(INLINE_ITEMS * 2);
            self.heap.extend_from_slice(&self.inline);
            self.heap.push(item);
            self.on_heap = true;
        }
    }

    fn pop(&mut self) {
        if self.on_heap {
            self.heap.pop();
        } else {
            self.inline_length = self.inline_length.saturating_sub(1);
        }
    }

    /// Splits `version` as Maven's `parseVersion` does, normalizing each
    /// list when it is closed (nothing is added to a list after its
    /// sub-list opens, so that is when Maven's final normalization would
    /// see it complete).
    fn parse(version: &str) -> Self {
        let mut parser = Parser {
            version,
            items: Items::new(),
            list_start: 0,
        };
        let bytes = version.as_bytes();
        let mut in_digits = false;
        let mut start = 0;
        for (index, &byte) in bytes.iter().enumerate() {
            match byte {
                b'.' | b'-' => {
                    if index == start {
                        // An empty item ("1..2", "-1") is a zero.
                        parser.items.push(Item::Number { start, end: start });
                    } else {
                        parser.push_item(in_digits, false, start, index);
                    }
                    start = index + 1;
                    if byte == b'-' {
                        parser.open_sub_list();
                    }
                }
                b'0'..=b'9' => {
                    if !in_digits && index > start {
                        // A qualifier followed by a digit ("rc1", "1.0.0.X1")
                        // sits in a sub-list of its own, and so does its number.
                        if !parser.list_is_empty() {
                            parser.open_sub_list();
                        }
                        parser.push_item(false, true, start, index);
                        start = index;
                        parser.open_sub_list();
                    }
                    in_digits = true;
                }
                _ => {
                    if in_digits && index > start {
                        // Digits followed by a letter ("1a"): the letters
                        // start a sub-list.
                        parser.push_item(true, false, start, index);
                        start = index;
                        parser.open_sub_list();
                    }
                    in_digits = false;
                }
            }
        }
        if bytes.len() > start {
            // A trailing ".X" sorts as "-X".
            if !in_digits && !parser.list_is_empty() {
                parser.open_sub_list();
            }
            parser.push_item(in_digits, false, start, bytes.len());
        }
        parser.finish()
    }
}

struct Parser<'version> {
    version: &'version str,
    items: Items,
    /// Where the scalar items of the list being filled begin.
    list_start: usize,
}

impl Parser<'_> {
    fn list_is_empty(&self) -> bool {
        self.items.len() == self.list_start
    }

    fn push_item(&mut self, digits: bool, followed_by_digit: bool, start: usize, end: usize) {
        let item = if digits {
            let bytes = self.version.as_bytes();
            let mut first_significant = start;
            while first_significant < end && bytes.get(first_significant) == Some(&b'0') {
                first_significant += 1;
            }
            Item::Number {
                start: first_significant,
                end,
            }
        } else {
            let text = self.version.get(start..end).unwrap_or("");
            Item::Qualifier {
                start,
                end,
                rank: rank(text, followed_by_digit),
            }
        };
        self.items.push(item);
    }

    /// Trims the trailing null items of the current list and opens its
    /// sub-list.
    fn open_sub_list(&mut self) {
        self.trim_list();
        self.items.push(Item::SubList);
        self.list_start = self.items.len();
    }

    fn trim_list(&mut self) {
        while self.items.len() > self.list_start && self.items.last().is_some_and(Item::is_null) {
            self.items.pop();
        }
    }

    /// Trims the last list, then drops sub-lists left empty; their parents
    /// were trimmed when the sub-lists opened.
    fn finish(mut self) -> Items {
        self.trim_list();
        while matches!(self.items.last(), Some(Item::SubList)) {
            self.items.pop();
        }
        self.items
    }
}

fn rank(text: &str, followed_by_digit: bool) -> Rank {
    if followed_by_digit && text.len() == 1 {
        match text.as_bytes().first().map(u8::to_ascii_lowercase) {
            Some(b'a') => return Rank::Alpha,
            Some(b'b') => return Rank::Beta,
            Some(b'm') => return Rank::Milestone,
            _ => {}
        }
    }
    const KNOWN: [(&str, Rank); 10] = [
        ("alpha", Rank::Alpha),
        ("beta", Rank::Beta),
        ("milestone", Rank::Milestone),
        ("rc", Rank::ReleaseCandidate),
        ("cr", Rank::ReleaseCandidate),
        ("snapshot", Rank::Snapshot),
        ("ga", Rank::Release),
        ("final", Rank::Release),
        ("release", Rank::Release),
        ("sp", Rank::ServicePack),
    ];
    KNOWN
        .iter()
        .find(|(name, _)| lowercase(text).eq(name.chars()))
        .map_or(Rank::Unknown, |&(_, rank)| rank)
}

fn lowercase(text: &str) -> impl Iterator<Item = char> + '_ {
    text.chars().flat_map(char::to_lowercase)
}

/// Compares two versions position by position. A position's key is its
/// tier (how the version from there on compares to nothing), then the
/// item's kind (qualifier < sub-list < number), then its value; a version
/// that has run out has the tier of nothing, `Equal`.
///
/// Maven compares two items by kind and value alone, and an item with
/// nothing by the tier: the two disagree for a few odd versions, where
/// Maven's order has cycles ("1.0.alpha.1" < "1" < "1.sp.1" <
/// "1.0.alpha.1") and a sort could not settle. Putting the tier first keeps
/// every comparison with nothing as Maven has it, and every comparison of
/// items that are on the same side of nothing; only the cyclic cases
/// differ.
fn compare_lists(first: &str, left: &[Item], second: &str, right: &[Item]) -> Ordering {
    let mut left_side = Side::new(left);
    let mut right_side = Side::new(right);
    loop {
        let (left_item, right_item) = match (left_side.current(), right_side.current()) {
            (None, None) => return Ordering::Equal,
            (Some(_), None) => return left_side.tier(),
            (None, Some(_)) => return right_side.tier().reverse(),
            (Some(left_item), Some(right_item)) => (left_item, right_item),
        };
        // Two sub-lists: their items are the rest of both versions and
        // compare one by one.
        if !matches!((left_item, right_item), (Item::SubList, Item::SubList)) {
            let ordering = left_side
                .tier()
                .cmp(&right_side.tier())
                .then_with(|| compare_scalars(first, left_item, second, right_item));
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        left_side.advance();
        right_side.advance();
    }
}

/// One version's items being compared, with the next item that is not null
/// remembered so that a run of zeros is scanned once.
struct Side<'items> {
    items: &'items [Item],
    index: usize,
    next_not_null: usize,
}

impl<'items> Side<'items> {
    fn new(items: &'items [Item]) -> Self {
        Self {
            items,
            index: 0,
            next_not_null: 0,
        }
    }

    fn current(&self) -> Option<Item> {
        self.items.get(self.index).copied()
    }

    fn advance(&mut self) {
        self.index += 1;
    }

    /// How the version from the current item on compares to nothing: as
    /// its first item that is not null does.
    fn tier(&mut self) -> Ordering {
        if self.next_not_null < self.index {
            self.next_not_null = self.index;
        }
        while let Some(item) = self.items.get(self.next_not_null) {
            let ordering = item.against_missing();
            if ordering != Ordering::Equal {
                return ordering;
            }
            self.next_not_null += 1;
        }
        Ordering::Equal
    }
}

/// Maven's order of item kinds, which decides between items that are on
/// the same side of a missing item: qualifier < sub-list < number.
fn kind_order(item: Item) -> u8 {
    match item {
        Item::Qualifier { .. } => 0,
        Item::SubList => 1,
        Item::Number { .. } => 2,
    }
}

/// Two items of the same tier: by kind, then by value.
fn compare_scalars(first: &str, left: Item, second: &str, right: Item) -> Ordering {
    match (left, right) {
        (
            Item::Number {
                start: left_start,
                end: left_end,
            },
            Item::Number {
                start: right_start,
                end: right_end,
            },
        ) => compare_numbers(
            first
                .as_bytes()
                .get(left_start..left_end)
                .unwrap_or_default(),
            second
                .as_bytes()
                .get(right_start..right_end)
                .unwrap_or_default(),
        ),
        (
            Item::Qualifier {
                start: left_start,
                end: left_end,
                rank: left_rank,
            },
            Item::Qualifier {
                start: right_start,
                end: right_end,
                rank: right_rank,
            },
        ) => match left_rank.cmp(&right_rank) {
            Ordering::Equal if left_rank == Rank::Unknown => compare_text(
                first.get(left_start..left_end).unwrap_or_default(),
                second.get(right_start..right_end).unwrap_or_default(),
            ),
            ordering => ordering,
        },
        (left, right) => kind_order(left).cmp(&kind_order(right)),
    }
}

/// Numbers without leading zeros: the longer is the larger, and equal
/// lengths compare digit by digit (Maven's int/long/BigInteger items give
/// exactly this).
fn compare_numbers(left: &[u8], right: &[u8]) -> Ordering {
    left.len().cmp(&right.len()).then_with(|| left.cmp(right))
}

/// Unknown qualifiers compare as Java compares the lower-cased strings: by
/// UTF-16 code units.
fn compare_text(left: &str, right: &str) -> Ordering {
    let mut left = lowercase(left);
    let mut right = lowercase(right);
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(left_char), Some(right_char)) => {
                let ordering = compare_utf16(left_char, right_char);
                if ordering != Ordering::Equal {
                    return ordering;
                }
            }
        }
    }
}

/// Characters in UTF-16 code unit order: a supplementary character's high
/// surrogate sorts below U+E000..U+FFFF.
fn compare_utf16(left: char, right: char) -> Ordering {
    fn first_unit(character: u32) -> u32 {
        if character > 0xFFFF {
            0xD800 + ((character - 0x1_0000) >> 10)
        } else {
            character
        }
    }
    let (left, right) = (u32::from(left), u32::from(right));
    if (left > 0xFFFF) == (right > 0xFFFF) {
        left.cmp(&right)
    } else {
        first_unit(left).cmp(&first_unit(right))
    }
}
