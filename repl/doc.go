// Package repl holds the domain types shared by every part of recoup: GTIDs
// and GTID sets of both server flavors, committed transactions (Txn), their
// row changes with typed values, and table schemas.
//
// It is a leaf package: it imports nothing of recoup's and nothing of
// go-mysql's, so every other package can depend on it and tests can build
// values by hand.
//
// Main types:
//   - Flavor: "mariadb" or "mysql".
//   - GTID: one transaction id (MariaDB domain-server-seq, MySQL uuid[:tag]:n).
//   - GTIDSet: an immutable set of GTIDs of one flavor, with Contains, Subset,
//     Union, Subtract, Intersect, Equal and All. For MariaDB its text form is
//     a position with one current GTID per domain, as the server requires,
//     and membership goes by domain and sequence number, not server id. For
//     MySQL it is uuid:interval text with 8.4 tags.
//   - Txn, RowChange, Row, Value: one committed transaction and its rows.
//   - Table, Column: the schema a row was written with.
package repl
