package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/streamer"
)

// runStream is `recoup stream`: one streamer per configured cluster (with
// an Orchestrator poller for clusters that configure one), plus the admin
// endpoint (see adminAPI). It runs until SIGINT or SIGTERM. A cluster
// whose capture stops with an error that needs an operator (binlog purged,
// undecodable event, disk full...) is logged and shown by /healthz (503);
// the other clusters go on. When every cluster has stopped, it exits with
// their errors.
func runStream(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := newFlagSet("stream", stderr)
	path := fs.String("config", "recoup.yaml", "config file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := LoadConfig(*path)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.Log)
	log.Debug("garbage collector target", "gc_percent", streamer.TuneGC())
	token, err := cfg.Admin.Token()
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	g, ctx := errgroup.WithContext(ctx)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	health := newClusterHealth()
	var stoppedErrs []error
	var mu sync.Mutex
	var streamers []*streamer.Streamer
	for i := range cfg.Clusters {
		cl := &cfg.Clusters[i]
		s, store, err := newStreamer(ctx, cfg, cl, log, reg)
		if err != nil {
			return err
		}
		streamers = append(streamers, s)
		g.Go(func() error {
			defer store.Close()
			err := s.Run(ctx)
			if err == nil || errors.Is(err, context.Canceled) {
				return nil
			}
			log.Error("capture stopped; the other clusters go on", "cluster", cl.Name, "err", err)
			health.stop(cl.Name, err)
			mu.Lock()
			defer mu.Unlock()
			stoppedErrs = append(stoppedErrs, fmt.Errorf("cluster %s: %w", cl.Name, err))
			if len(stoppedErrs) == len(cfg.Clusters) {
				cancel()
			}
			return nil
		})
		if err := startPoller(ctx, g, cl, s, log); err != nil {
			return err
		}
	}
	srv, err := startAdmin(cfg.Admin.Listen, adminHandlerWithHealth(reg, streamers, token, health, log), log)
	if err != nil {
		return err
	}
	g.Go(func() error {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	log.Info("recoup stream started", "clusters", len(cfg.Clusters), "store", cfg.Store.Kind, "admin", cfg.Admin.Listen)
	if err := g.Wait(); err != nil {
		return err
	}
	return errors.Join(stoppedErrs...)
}

func newStreamer(ctx context.Context, cfg *Config, cl *ClusterConfig, log *slog.Logger, reg prometheus.Registerer) (*streamer.Streamer, capture.Store, error) {
	pw, err := cl.Password()
	if err != nil {
		return nil, nil, err
	}
	flavor, _ := repl.ParseFlavor(cl.Flavor) // validated
	clog := log.With("cluster", cl.Name)
	store, err := openStore(ctx, cfg, cl.Name, false, clog)
	if err != nil {
		return nil, nil, err
	}
	s, err := streamer.New(streamer.Config{
		Cluster:            cl.Name,
		Flavor:             flavor,
		Master:             cl.Master,
		User:               cl.User,
		Password:           pw,
		ServerID:           cl.ServerID,
		AllowReplicaSource: cl.AllowReplicaSource,
		SemiSync:           cl.SemiSync,
		Schemas:            cl.Schemas,
	}, store, clog, reg) // the streamer labels its metrics with the cluster
	if err != nil {
		store.Close()
		return nil, nil, fmt.Errorf("cluster %s: %w", cl.Name, err)
	}
	return s, store, nil
}

// startPoller runs the cluster's Orchestrator poller, if it has one.
func startPoller(ctx context.Context, g *errgroup.Group, cl *ClusterConfig, s *streamer.Streamer, log *slog.Logger) error {
	if cl.Orchestrator == nil {
		return nil
	}
	pc, err := cl.Orchestrator.pollerConfig(cl.Name)
	if err != nil {
		return err
	}
	p, err := streamer.NewOrchestratorPoller(s, pc, log.With("cluster", cl.Name, "component", "orchestrator"))
	if err != nil {
		return fmt.Errorf("cluster %s: %w", cl.Name, err)
	}
	g.Go(func() error { return p.Run(ctx) })
	return nil
}

// startAdmin serves the admin API (see adminAPI) on addr.
func startAdmin(addr string, h http.Handler, log *slog.Logger) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin endpoint: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin endpoint stopped", "err", err)
		}
	}()
	return srv, nil
}
