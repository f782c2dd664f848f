-- The cluster's stable name, for Orchestrator's DetectClusterAliasQuery
-- (deploy/orchestrator.conf.json):
--
--   SELECT value FROM meta.cluster WHERE anchor = 1
--
-- Without it Orchestrator names a cluster after its first master
-- ("10.0.0.1:3306"), and the name changes when another server becomes
-- master; recoup finds the cluster in recoup.yaml by that name
-- ({failureClusterAlias}), so it must not change. Run this once on the
-- master: the row replicates to every replica, so whichever server is
-- promoted answers the same alias. deploy/grants_test.go runs it on a real
-- master and reads the alias on the promoted replica.
--
-- EDIT: 'shop' is the cluster's name, the same as clusters[].name in
-- recoup.yaml (letters, digits, '.', '_', '-'; at most 64 characters).
--
-- Orchestrator's own account (the one in its MySQLTopologyUser) needs to
-- read the table on every server:
--   GRANT SELECT ON `meta`.* TO 'orchestrator'@'<orchestrator host>';

CREATE DATABASE IF NOT EXISTS meta;

-- anchor is a constant 1: the table holds one row, the query reads it by key.
CREATE TABLE IF NOT EXISTS meta.cluster (
  anchor TINYINT UNSIGNED NOT NULL PRIMARY KEY,
  value VARCHAR(64) NOT NULL
) ENGINE=InnoDB;

INSERT INTO meta.cluster (anchor, value) VALUES (1, 'shop')
  ON DUPLICATE KEY UPDATE value = VALUES(value);
