pub mod lookups;
