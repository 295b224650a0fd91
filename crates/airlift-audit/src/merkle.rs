//! The RFC 6962 Merkle tree of the log: leaf and node hashes, the tree hash
//! of a list of leaves (what a full check recomputes), and the frontier that
//! lets an append extend the tree in O(log n) without reading the log.

/// SHA-256 of the bytes.
pub(crate) fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = airlift_core::Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    *hasher.finish().as_bytes()
}

/// The RFC 6962 leaf hash.
pub fn leaf_hash(entry: &[u8]) -> [u8; 32] {
    sha256(&[&[0u8], entry])
}

fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    sha256(&[&[1u8], left, right])
}

/// The RFC 6962 Merkle tree hash of leaf hashes.
pub fn tree_hash(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => sha256(&[]),
        1 => leaves[0],
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            node_hash(&tree_hash(&leaves[..k]), &tree_hash(&leaves[k..]))
        }
    }
}

/// The right edge of an RFC 6962 tree: the roots of its perfect subtrees,
/// largest first, one per set bit of its size. Appending a leaf merges the
/// subtrees it completes, as a binary counter carries, so it costs
/// O(log n) hashes; the root folds the subtrees from the right, which is
/// how RFC 6962 splits a tree whose size is not a power of two.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    pub(crate) nodes: Vec<[u8; 32]>,
}

impl Frontier {
    /// The frontier of an empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a frontier from its parts; `None` when `nodes` cannot be
    /// the right edge of a tree of `size` leaves.
    pub(crate) fn from_parts(size: u64, nodes: Vec<[u8; 32]>) -> Option<Self> {
        (nodes.len() == size.count_ones() as usize).then_some(Self { size, nodes })
    }

    /// Leaves in the tree.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: [u8; 32]) {
        let mut carry = leaf;
        let mut size = self.size;
        while size & 1 == 1 {
            // One node per set bit, so a trailing 1 always has its node.
            let Some(left) = self.nodes.pop() else { break };
            carry = node_hash(&left, &carry);
            size >>= 1;
        }
        self.nodes.push(carry);
        self.size += 1;
    }

    /// The tree hash.
    pub fn root(&self) -> [u8; 32] {
        match self.nodes.split_last() {
            None => sha256(&[]),
            Some((last, rest)) => rest
                .iter()
                .rev()
                .fold(*last, |right, left| node_hash(left, &right)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6962_tree_hashes() {
        // The certificate-transparency reference vectors.
        let leaves: Vec<Vec<u8>> = vec![
            vec![],
            vec![0x00],
            vec![0x10],
            vec![0x20, 0x21],
            vec![0x30, 0x31],
            vec![0x40, 0x41, 0x42, 0x43],
            (0x50..0x58).collect(),
            (0x60..0x70).collect(),
        ];
        let roots = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let hashes: Vec<[u8; 32]> = leaves.iter().map(|l| leaf_hash(l)).collect();
        for (n, root) in roots.iter().enumerate() {
            assert_eq!(
                hex::encode(tree_hash(&hashes[..n + 1])),
                *root,
                "size {}",
                n + 1
            );
        }
        assert_eq!(
            hex::encode(tree_hash(&[])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn the_frontier_matches_a_full_recompute_at_every_size() {
        let mut frontier = Frontier::new();
        let mut leaves = Vec::new();
        for i in 0u32..300 {
            let leaf = leaf_hash(&i.to_be_bytes());
            frontier.push(leaf);
            leaves.push(leaf);
            assert_eq!(frontier.root(), tree_hash(&leaves), "size {}", i + 1);
            assert_eq!(frontier.nodes.len(), leaves.len().count_ones() as usize);
        }
    }
}
