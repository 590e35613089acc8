package sqlpool_test

import (
	"database/sql"
	"testing"

	"github.com/poolkit/poolkit/sqlpool"
)

func BenchmarkZZPool(b *testing.B) {
	db, err := sqlpool.Open("pgx", postgresDSN(), sqlpool.Config{MinSize: 4, MaxSize: 4})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var v int
		for pb.Next() {
			if err := db.QueryRow("SELECT 1").Scan(&v); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkZZPlain(b *testing.B) {
	db, _ := sql.Open("pgx", postgresDSN())
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	defer db.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var v int
		for pb.Next() {
			if err := db.QueryRow("SELECT 1").Scan(&v); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkZZPoolPrep(b *testing.B) {
	db, err := sqlpool.Open("pgx", postgresDSN(), sqlpool.Config{MinSize: 4, MaxSize: 4})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	st, err := db.Prepare("SELECT $1::int")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var v int
		for pb.Next() {
			if err := st.QueryRow(1).Scan(&v); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkZZPlainPrep(b *testing.B) {
	db, _ := sql.Open("pgx", postgresDSN())
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	defer db.Close()
	st, err := db.Prepare("SELECT $1::int")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var v int
		for pb.Next() {
			if err := st.QueryRow(1).Scan(&v); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
