// Package kafkatest runs a real Apache Kafka 4.x broker (KRaft mode, one
// combined broker+controller node, 127.0.0.1 only) for recoup's tests.
//
// The broker jars (org.apache.kafka:kafka_2.13 and its runtime dependencies)
// are resolved from Maven Central by kafka.sh fetch into a cache outside the
// repository (${RECOUP_KAFKA_CACHE:-$HOME/.cache/recoup/kafka/VERSION}).
// When the cache is empty the helper runs that fetch itself (needs java 17+
// and mvn); when it cannot, the test fails with the command to run. It never
// skips.
//
// Main types and functions:
//
//   - Main wraps testing.M: it runs the tests, then stops the shared broker
//     and removes its data directory. Call it from TestMain.
//   - Server is one broker; it is not named Broker because Broker is the
//     function below.
//   - Broker returns the broker shared by every test of the binary, started
//     lazily on free ports with a temporary data directory, or the broker at
//     RECOUP_KAFKA_ADDR (a 127.0.0.1/localhost address) when that is set.
//   - NewBroker starts a private broker for one test (stopped in cleanup); use
//     it for tests that stop or restart the broker, so other tests sharing
//     the broker are not disturbed.
//   - (*Server).NewTopic creates a fresh single-partition topic (replication
//     factor 1) and deletes it in cleanup; Stop, Start and Restart stop and
//     start the broker process on the same ports and data directory.
//   - WaitReady polls until a produce with acks=all succeeds; the kafkaprobe
//     command uses it for kafka.sh start.
//
// What it does not do: multi-broker clusters, TLS/SASL, or any address other
// than loopback. The package keeps one piece of package-level state, the
// shared broker, because a test binary has exactly one.
package kafkatest
