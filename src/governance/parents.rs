//! What a new ticket takes from its campaign and channel, remembered per campaign and
//! channel code, so that creating a ticket is one round trip and no read.
//!
//! Nothing here needs to be told when a campaign or channel changes: the insert checks
//! every remembered fact again in its own statement (`store::insert_tickets`), and a ticket
//! whose facts no longer hold is not written. The caller then forgets them, reads them anew
//! and tries once more. So a stale entry costs a round trip, not a wrong ticket, also when
//! another process sharing the database made the change (see `store::insert_tickets` for how
//! far the check reaches on PostgreSQL, where a rename racing the insert is not ordered).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::store::TicketParents;

/// Entries kept; past this the map starts again (a campaign's next ticket reads it anew).
const MAX_ENTRIES: usize = 4096;

#[derive(Default)]
pub(super) struct ParentsCache {
    map: Mutex<HashMap<(i64, String), Arc<TicketParents>>>,
}

impl ParentsCache {
    pub(super) fn get(&self, campaign_id: i64, channel_code: &str) -> Option<Arc<TicketParents>> {
        let map = self.map.lock().ok()?;
        map.get(&(campaign_id, channel_code.to_owned())).cloned()
    }

    pub(super) fn remember(&self, parents: TicketParents) -> Arc<TicketParents> {
        let parents = Arc::new(parents);
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(
                (parents.campaign_id, parents.channel_code.clone()),
                parents.clone(),
            );
        }
        parents
    }

    pub(super) fn forget(&self, campaign_id: i64, channel_code: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(&(campaign_id, channel_code.to_owned()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Platform;

    fn parents(campaign_id: i64, channel_code: &str) -> TicketParents {
        TicketParents {
            campaign_id,
            brand_code: "DIS".into(),
            market_code: "US".into(),
            campaign_name: "Moana".into(),
            year: 2026,
            channel_id: 1,
            channel_code: channel_code.into(),
            platform: Platform::Meta,
        }
    }

    #[test]
    fn remembers_per_campaign_and_channel_forgets_and_stays_bounded() {
        let cache = ParentsCache::default();
        cache.remember(parents(1, "META"));
        assert_eq!(cache.get(1, "META").as_deref(), Some(&parents(1, "META")));
        assert!(cache.get(1, "TIKTOK").is_none());
        assert!(cache.get(2, "META").is_none());
        cache.forget(1, "META");
        assert!(cache.get(1, "META").is_none());
        for id in 0..(MAX_ENTRIES as i64 + 10) {
            cache.remember(parents(id, "META"));
        }
        let len = cache.map.lock().map(|m| m.len()).unwrap_or(usize::MAX);
        assert!(len <= MAX_ENTRIES, "{len} entries");
        assert!(cache.get(MAX_ENTRIES as i64 + 9, "META").is_some());
    }
}
