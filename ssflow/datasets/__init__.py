"""Dataset readers in their official layouts, plus the generated demo datasets."""
