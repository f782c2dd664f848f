package streamer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/go-sql-driver/mysql"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
)

// errSessionDone ends go-mysql's event delivery when a session stops.
var errSessionDone = errors.New("streamer session stopped")

// session is one connection to the master: preflight, resume point (and,
// after a failover, where the master's history meets the captured one),
// schema history, binlog dump, and the event pump until an error.
// progressed reports whether the master sent any event.
func (s *Streamer) session(ctx context.Context, master string) (progressed bool, err error) {
	db, err := s.openDB(master)
	if err != nil {
		return false, err
	}
	defer db.Close()
	if err := s.preflight(ctx, db); err != nil {
		return false, err
	}
	res, err := s.resumePoint(ctx, db)
	if err != nil {
		return false, err
	}
	plan, err := s.plan(ctx, db, master, res)
	if err != nil {
		return false, err
	}
	hist := newHistory(db, s.cfg.Flavor, s.cfg.captures, s.log, s.cfg.Cluster)
	fresh, since, err := s.loadHistory(ctx, hist, res)
	if err != nil {
		return false, err
	}
	// A history not in the log yet is written after the first transaction
	// (a snapshot always follows a transaction record).
	hist.changed = fresh
	sctx, cancel := context.WithCancel(ctx)
	events := make(chan *replication.BinlogEvent, 4096)
	var gate *ackGate // nil unless capture is semi-synchronous
	if s.cfg.SemiSync {
		gate = newAckGate(sctx.Done(), func(d time.Duration) { s.m.ackHold.Observe(d.Seconds()) })
	}
	syncer := replication.NewBinlogSyncer(s.syncerConfig(master, &eventHandler{events: events, done: sctx.Done(), gate: gate}, gate))
	defer func() {
		cancel() // first: unblocks a HandleEvent waiting on the channel
		syncer.Close()
	}()
	bs, err := s.startSync(syncer, plan.start)
	if err != nil {
		return false, err
	}
	errs := make(chan error, 1)
	go func() {
		_, err := bs.GetEvent(sctx) // with a synchronous handler only errors come here
		errs <- err
	}()
	s.setConnected(plan.after, res.durable)
	p := &pump{s: s, events: events, errs: errs, gate: gate, b: s.newBuilder(master, plan.start, hist), hist: hist, since: since,
		head: plan.head, after: plan.after, split: !plan.after.Equal(plan.start), window: plan.window}
	err = p.run(sctx)
	var me *gomysql.MyError
	if errors.As(err, &me) && me.Code == gomysql.ER_MASTER_FATAL_ERROR_READING_BINLOG {
		err = fatal(s.purgeError(ctx, db, me))
	}
	return p.announced, err
}

func (s *Streamer) newBuilder(master string, pos repl.GTIDSet, hist *schemaHistory) *txnBuilder {
	var cache tableCache // TableFromMap's results, until the next DDL
	b := &txnBuilder{
		flavor: s.cfg.Flavor, cluster: s.cfg.Cluster, master: master, captures: s.cfg.captures,
		log: s.log, pos: pos,
		applyDDL: func(ctx context.Context, schema, query string) error {
			cache.reset()
			return hist.applyDDL(ctx, schema, query)
		},
		resolve: func(ctx context.Context, tme *replication.TableMapEvent, key []byte) (repl.Table, error) {
			h, err := hist.lookup(ctx, string(tme.Schema), string(tme.Table))
			if err != nil {
				return repl.Table{}, err
			}
			if t, ok := cache.get(key, h); ok && key != nil {
				return t, nil
			}
			t, err := TableFromMap(tme, h)
			if err != nil {
				return repl.Table{}, fmt.Errorf("%w: %w", ErrUndecodable, err)
			}
			if key != nil {
				cache.put(key, h, t)
			}
			return t, nil
		},
	}
	hist.at = func() repl.GTIDSet { // the position once the current transaction is applied
		if b.cur == nil {
			return b.pos
		}
		if at, err := b.pos.Add(b.cur.rec.GTID); err == nil {
			return at
		}
		return b.pos
	}
	return b
}

func (s *Streamer) openDB(master string) (*sql.DB, error) {
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr = s.cfg.User, s.cfg.Password, "tcp", master
	c.Timeout, c.ReadTimeout, c.WriteTimeout = s.cfg.ConnectTimeout, time.Minute, time.Minute
	conn, err := mysql.NewConnector(c)
	if err != nil {
		return nil, fmt.Errorf("configuring the connection to %s: %w", master, err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(2)
	db.SetConnMaxIdleTime(time.Minute)
	return db, nil
}

func (s *Streamer) preflight(ctx context.Context, db *sql.DB) error {
	opts, err := s.preflightOptions(ctx, db, s.followsSwitch())
	if err != nil {
		return fmt.Errorf("preflight checks: %w", err)
	}
	warnings, err := Preflight(ctx, db, s.cfg.Flavor, opts...)
	var pe *PreflightError
	if errors.As(err, &pe) {
		return fatal(err)
	}
	if err != nil {
		return fmt.Errorf("preflight checks: %w", err)
	}
	s.mu.Lock()
	first := !s.warned
	s.warned = true
	s.mu.Unlock()
	for _, w := range warnings {
		if first {
			s.log.Warn("preflight: "+w, "cluster", s.cfg.Cluster, "host", s.currentMaster())
		}
	}
	return nil
}

// resumePoint is the captured position from the store's last record
// (durable): its ResumeAt on the master's history, and its After, the
// captured set; with an empty log, capture begins at the master's current
// position, durable once the session's first master-state record is.
func (s *Streamer) resumePoint(ctx context.Context, db *sql.DB) (resume, error) {
	rec, ok, err := s.store.Last(ctx)
	if errors.Is(err, capture.ErrClosed) {
		return resume{}, fatal(err)
	}
	if err != nil {
		return resume{}, fmt.Errorf("reading the capture log's last record: %w", err)
	}
	if ok {
		s.mu.Lock()
		if !rec.GTID.IsZero() {
			s.st.LastGTID = rec.GTID
		}
		if rec.Kind == capture.KindTxn {
			s.st.LastCommit = rec.CommitTime
		}
		s.mu.Unlock()
		res := resume{last: rec, ok: true, pos: rec.ResumeAt(), after: rec.After, durable: true}
		if rec.After.IsEmpty() {
			res.pos, res.after = repl.NewGTIDSet(s.cfg.Flavor), repl.NewGTIDSet(s.cfg.Flavor)
			return res, nil
		}
		if rec.After.Flavor() != s.cfg.Flavor || res.pos.Flavor() != s.cfg.Flavor {
			return resume{}, fatal(fmt.Errorf("the capture log holds %s GTIDs, the cluster is configured as %s", rec.After.Flavor(), s.cfg.Flavor))
		}
		return res, nil
	}
	pos, err := masterPosition(ctx, db, s.cfg.Flavor)
	if err != nil {
		return resume{}, err
	}
	s.log.Info("capture log is empty: capture begins at the master's current position", "cluster", s.cfg.Cluster,
		"host", s.currentMaster(), "gtid", pos.String())
	return resume{pos: pos, after: pos}, nil
}

// resume is where a session starts, from the capture log's last record.
type resume struct {
	last    capture.Record
	ok      bool         // the log has a record
	pos     repl.GTIDSet // position on the master's history (Record.ResumeAt)
	after   repl.GTIDSet // the captured set (Record.After)
	durable bool         // pos is in the log (false on first start)
}

// masterPosition is gtid_binlog_pos (MariaDB) or gtid_executed (MySQL).
func masterPosition(ctx context.Context, db *sql.DB, f repl.Flavor) (repl.GTIDSet, error) {
	q := "SELECT @@GLOBAL.gtid_binlog_pos"
	if f == repl.MySQL {
		q = "SELECT @@GLOBAL.gtid_executed"
	}
	var text string
	if err := db.QueryRowContext(ctx, q).Scan(&text); err != nil {
		return repl.GTIDSet{}, fmt.Errorf("reading the master's GTID position: %w", err)
	}
	pos, err := repl.ParseGTIDSet(f, text)
	if err != nil {
		return repl.GTIDSet{}, fatal(fmt.Errorf("parsing the master's GTID position %q: %w", text, err))
	}
	return pos, nil
}

func (s *Streamer) syncerConfig(master string, h replication.EventHandler, gate *ackGate) replication.BinlogSyncerConfig {
	host, port, _ := splitHostPort(master) // validated by Config.Validate
	dialer := &net.Dialer{Timeout: s.cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
	return replication.BinlogSyncerConfig{
		ServerID: s.cfg.ServerID, Flavor: s.cfg.Flavor.String(),
		Host: host, Port: port, User: s.cfg.User, Password: s.cfg.Password,
		Localhost:               "recoup-" + s.cfg.Cluster,
		DisableRetrySync:        true, // reconnect from our own durable position instead
		TimestampStringLocation: time.UTC,
		UseDecimal:              true,
		HeartbeatPeriod:         s.cfg.HeartbeatPeriod,
		ReadTimeout:             readTimeout(s.cfg.HeartbeatPeriod),
		RowsEventDecodeFunc:     decodeRowsHeader,
		DiscardGTIDSet:          true, // no GTID set clone per XID and query event
		SynchronousEventHandler: h,
		EventCacheCount:         1,
		Dialer:                  binlogDialer(dialer, gate),
		SemiSyncEnabled:         s.cfg.SemiSync, // acknowledgements held by gate until durable
		Logger:                  slog.New(&minLevel{s.log.Handler(), slog.LevelWarn}).With("cluster", s.cfg.Cluster, "component", "go-mysql"),
	}
}

// decodeRowsHeader decodes a rows event's header (table id, flags) and
// leaves its rows undecoded: capture keeps the raw bytes.
func decodeRowsHeader(re *replication.RowsEvent, data []byte) error {
	_, err := re.DecodeHeader(data)
	return err
}

func (s *Streamer) startSync(syncer *replication.BinlogSyncer, pos repl.GTIDSet) (*replication.BinlogStreamer, error) {
	var gs gomysql.GTIDSet
	var err error
	if s.cfg.Flavor == repl.MariaDB {
		gs, err = gomysql.ParseMariadbGTIDSet(pos.Position())
	} else {
		gs, err = gomysql.ParseMysqlGTIDSet(pos.String())
	}
	if err != nil {
		return nil, fatal(fmt.Errorf("converting the captured position %s for go-mysql: %w", pos, err))
	}
	bs, err := syncer.StartSyncGTID(gs)
	if err != nil {
		return nil, fmt.Errorf("starting the binlog dump at %s: %w", pos.Position(), err)
	}
	return bs, nil
}

// eventHandler hands go-mysql's events to the pump.
type eventHandler struct {
	events chan<- *replication.BinlogEvent
	done   <-chan struct{}
	gate   *ackGate // counts the events handed (semi-synchronous capture)
}

// HandleEvent runs on go-mysql's reading goroutine. A MariaDB GTID event
// is copied first: go-mysql v1.13.0 keeps a pointer to the GTID of the
// first event of each new (domain, server) pair in its own GTID set and
// overwrites it with every later GTID of that pair, so the pump, which
// reads the event later on another goroutine, must not see that struct.
func (h *eventHandler) HandleEvent(e *replication.BinlogEvent) error {
	if g, ok := e.Event.(*replication.MariadbGTIDEvent); ok {
		c := *g
		e.Event = &c
	}
	select { // the common case, without select's locking of both channels
	case h.events <- e:
		h.gate.hand()
		return nil
	default:
	}
	select {
	case h.events <- e:
		h.gate.hand()
		return nil
	case <-h.done:
		return errSessionDone
	}
}

// minLevel drops records below a level (go-mysql logs every rotate at Info).
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (m *minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.min && m.Handler.Enabled(ctx, l)
}

func (m *minLevel) WithAttrs(a []slog.Attr) slog.Handler {
	return &minLevel{m.Handler.WithAttrs(a), m.min}
}

func (m *minLevel) WithGroup(g string) slog.Handler { return &minLevel{m.Handler.WithGroup(g), m.min} }

// readTimeout is how long a read may wait: three heartbeat periods of
// silence mean the master is gone, but reading one large event may take
// longer, hence a floor of 10s.
func readTimeout(heartbeat time.Duration) time.Duration { return max(3*heartbeat, 10*time.Second) }
