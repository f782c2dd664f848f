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
//     Union, Subtract and Equal. For MariaDB its text form is a position with
//     one current GTID per domain, as the server requires.
//   - Txn, RowChange, Row, Value: one committed transaction and its rows.
//   - Table, Column: the schema a row was written with.
package repl
